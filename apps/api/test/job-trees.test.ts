import { describe, expect, it } from 'vitest';
import { ended, running, usePlatform } from './helpers.js';

const { p } = usePlatform();

async function deploy(name: string, source: string): Promise<void> {
  const deployed = await p.call('PUT', `/v1/functions/${name}`, {
    raw: source,
    headers: { 'content-type': 'application/javascript' },
  });
  expect(deployed.status).toBe(201);
}

describe('job trees over REST', () => {
  it("GET /v1/jobs/{id} shows a job's parent and children; DELETE of the parent cancels its linked children", async () => {
    await deploy(
      'tree-root',
      `export default async (_, ctx) => {
        const waiting = await ctx.startJob('sleep', { ms: 60000 }, { delayMs: 60000 });
        const watched = await ctx.startJob('echo', 'seen', { monitor: true });
        await ctx.receive((m) => m.type === 'DOWN');
        return ctx.awaitJob(waiting);
      };`,
    );
    const root = await p.call('POST', '/v1/jobs', { body: { function: 'tree-root', timeoutMs: 120_000 } });
    expect(root.status).toBe(202);
    await running(p, root.body.id);
    let shown = await p.call('GET', `/v1/jobs/${root.body.id}`);
    for (let i = 0; i < 200 && shown.body.children?.total !== 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      shown = await p.call('GET', `/v1/jobs/${root.body.id}`);
    }
    expect(shown.body.children).toEqual({ total: 2, ids: [expect.any(String), expect.any(String)] });
    expect(shown.body.parent).toBeUndefined();
    const [waitingId, watchedId] = shown.body.children.ids as string[];
    const waiting = await p.call('GET', `/v1/jobs/${waitingId}`);
    expect(waiting.body).toMatchObject({ state: 'delayed', parent: { id: root.body.id, relation: 'link' } });
    expect((await ended(p, watchedId as string)).parent).toEqual({ id: root.body.id, relation: 'monitor' });
    // Another tenant sees neither.
    expect((await p.call('GET', `/v1/jobs/${waitingId}`, { as: 'globex' })).status).toBe(404);
    // The children route pages them, each as GET /v1/jobs/{id} shows it; another tenant gets a 404.
    const page = await p.call('GET', `/v1/jobs/${root.body.id}/children?limit=1&offset=1`);
    expect(page).toMatchObject({ status: 200, body: { total: 2, offset: 1, jobs: [{ id: watchedId }] } });
    expect((await p.call('GET', `/v1/jobs/${root.body.id}/children`, { as: 'globex' })).status).toBe(404);
    expect((await p.call('GET', `/v1/jobs/${root.body.id}/children?limit=101`)).status).toBe(400);

    expect((await p.call('DELETE', `/v1/jobs/${root.body.id}`)).status).toBe(202);
    expect((await ended(p, root.body.id)).state).toBe('cancelled');
    // The linked child had not started: it is gone with its parent.
    expect((await p.call('GET', `/v1/jobs/${waitingId}`)).status).toBe(404);
    expect((await p.call('GET', `/v1/jobs/${watchedId}`)).body.state).toBe('completed');
  });
});
