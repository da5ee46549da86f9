import { type FollowOptions, followEvents, type StreamEvent, type StreamState } from './event-stream.js';

export interface SharedFollowOptions extends Omit<FollowOptions, 'once'> {
  /** Tabs of this origin following under the same name share one connection. */
  readonly shareAs: string;
  /** The events that bring a tab joining late to the current state (the leader's answer to it). */
  readonly replay: () => StreamEvent[];
  /** Told when this tab starts holding the connection for the others. */
  readonly onLead?: () => void;
}

/** What the tabs tell each other over their BroadcastChannel. */
type Relay =
  | { readonly kind: 'join' }
  | { readonly kind: 'event'; readonly event: StreamEvent }
  | { readonly kind: 'state'; readonly state: StreamState }
  | { readonly kind: 'refused'; readonly status: number }
  | { readonly kind: 'replay'; readonly events: StreamEvent[]; readonly state: StreamState };

/**
 * Follows a stream once for all of a browser's tabs (a browser opens at most 6 connections to a
 * host: a 7th tab would wait). The tab holding the Web Lock named `shareAs` follows the stream and
 * relays every event over a BroadcastChannel; the others listen. When the leading tab closes, the
 * lock passes to a waiting tab, which connects. Without Web Locks or BroadcastChannel, each tab
 * follows on its own. Returns the way to stop.
 */
export function followShared(options: SharedFollowOptions): () => void {
  if (typeof BroadcastChannel === 'undefined' || !navigator.locks) return followEvents(options);
  const channel = new BroadcastChannel(options.shareAs);
  const abort = new AbortController();
  let leading = false;
  let state: StreamState = 'connecting';
  const setState = (next: StreamState) => {
    state = next;
    options.onState?.(next);
  };
  const relay = (message: Relay) => channel.postMessage(message);
  channel.onmessage = ({ data }: MessageEvent<Relay>) => {
    if (leading) {
      if (data.kind === 'join') relay({ kind: 'replay', events: options.replay(), state });
      return;
    }
    if (data.kind === 'event') options.onEvent(data.event);
    else if (data.kind === 'state') setState(data.state);
    else if (data.kind === 'refused') options.onRefused?.(data.status);
    else if (data.kind === 'replay') {
      for (const event of data.events) options.onEvent(event);
      setState(data.state);
    }
  };
  relay({ kind: 'join' });
  navigator.locks
    .request(options.shareAs, { signal: abort.signal }, () => {
      leading = true;
      options.onLead?.();
      return new Promise<void>((release) => {
        const stop = followEvents({
          ...options,
          onEvent: (event) => {
            options.onEvent(event);
            relay({ kind: 'event', event });
          },
          onState: (next) => {
            setState(next);
            relay({ kind: 'state', state: next });
          },
          onRefused: (status) => {
            options.onRefused?.(status);
            relay({ kind: 'refused', status });
          },
        });
        abort.signal.addEventListener(
          'abort',
          () => {
            stop();
            release();
          },
          { once: true },
        );
      });
    })
    // Stopped while waiting for the lock.
    .catch(() => undefined);
  return () => {
    abort.abort();
    channel.close();
  };
}
