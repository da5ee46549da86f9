/**
 * The control messages waiting to be handled by a node, queued per sender tenant and taken in
 * turns, so that one tenant flooding a node's channel delays and drops only its own messages.
 * When the queue is full, room is made by dropping the oldest message of the tenant with the most
 * waiting (the most messages when the count is the bound reached, the most bytes when the bytes
 * are); a message of that very tenant is dropped instead. Bounded in count and in bytes.
 */
export class FairControlQueue {
  private readonly byTenant = new Map<string, string[]>();
  private readonly bytesOf = new Map<string, number>();
  private size = 0;
  private bytes = 0;

  constructor(
    private readonly maxMessages: number,
    private readonly maxBytes: number,
    /** Called for each message dropped to make room (or refused). */
    private readonly onDrop: (tenant: string) => void,
  ) {}

  get length(): number {
    return this.size;
  }

  push(tenant: string, text: string): void {
    for (;;) {
      const tooMany = this.size + 1 > this.maxMessages;
      if (!tooMany && this.bytes + text.length <= this.maxBytes) break;
      const biggest = tooMany ? this.mostMessages() : this.mostBytes();
      if (biggest === undefined || biggest === tenant) {
        this.onDrop(tenant);
        return;
      }
      this.remove(biggest, (this.byTenant.get(biggest) as string[]).shift() as string);
      this.onDrop(biggest);
    }
    let queue = this.byTenant.get(tenant);
    if (!queue) {
      queue = [];
      this.byTenant.set(tenant, queue);
    }
    queue.push(text);
    this.bytesOf.set(tenant, (this.bytesOf.get(tenant) ?? 0) + text.length);
    this.size++;
    this.bytes += text.length;
  }

  /** Up to `count` messages, one of each tenant's in turn, oldest first within a tenant. */
  take(count: number): string[] {
    const taken: string[] = [];
    while (taken.length < count && this.size > 0) {
      for (const [tenant, queue] of this.byTenant) {
        if (taken.length >= count) break;
        const text = queue.shift() as string;
        this.remove(tenant, text);
        taken.push(text);
      }
    }
    return taken;
  }

  private remove(tenant: string, text: string): void {
    this.size--;
    this.bytes -= text.length;
    const left = (this.bytesOf.get(tenant) ?? 0) - text.length;
    if ((this.byTenant.get(tenant)?.length ?? 0) === 0) {
      this.byTenant.delete(tenant);
      this.bytesOf.delete(tenant);
    } else {
      this.bytesOf.set(tenant, left);
    }
  }

  /** The tenant with the most messages waiting. */
  private mostMessages(): string | undefined {
    let found: string | undefined;
    let most = -1;
    for (const [tenant, queue] of this.byTenant) {
      if (queue.length > most) {
        most = queue.length;
        found = tenant;
      }
    }
    return found;
  }

  /** The tenant with the most bytes waiting. */
  private mostBytes(): string | undefined {
    let found: string | undefined;
    let most = -1;
    for (const [tenant, bytes] of this.bytesOf) {
      if (bytes > most) {
        most = bytes;
        found = tenant;
      }
    }
    return found;
  }
}

/**
 * The sender tenant of an encoded control message, read without parsing it: the platform writes
 * `tenant` before the message it carries (encodeControl), so the first occurrence is the stamp.
 * A message without one is queued under '' (it is refused as malformed when handled).
 */
export function senderTenantOf(text: string): string {
  return /"tenant":"([^"\\]{1,100})"/.exec(text.slice(0, 1024))?.[1] ?? '';
}
