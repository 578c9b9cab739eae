// The page-views example's query endpoint. GET /views/<page>?from=<ms>&to=<ms> answers the
// per-minute counts of one page from the application's window store. Each instance holds only
// the pages of its own tasks, so an instance asked for a page another one holds forwards the
// request there (the owner is found with metadataForKey) and relays the answer.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Serdes } from '../../dsl/index.ts';
import type { StreamsApp } from '../../runtime/streams/app/index.ts';
import { MINUTE_STORE } from './topology.ts';

export interface MinuteCount {
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly views: number;
}

export interface ViewsAnswer {
  readonly page: string;
  readonly servedBy: string;
  readonly minutes: MinuteCount[];
}

const pageKey = Serdes.string();

function localAnswer(app: StreamsApp, self: string, page: string, from: number, to: number): ViewsAnswer {
  const minutes = app.windowStore<string, number>(MINUTE_STORE).fetchRange(page, from, to)
    .map((entry) => ({ windowStart: entry.windowStartMs, windowEnd: entry.windowStartMs + 60_000, views: entry.value }));
  return { page, servedBy: self, minutes };
}

async function answer(app: StreamsApp, self: string, url: URL): Promise<{ status: number; body: unknown }> {
  const match = /^\/views\/(.+)$/.exec(url.pathname);
  if (match === null) return { status: 404, body: { error: 'ask GET /views/<page>?from=<ms>&to=<ms>' } };
  const page = decodeURIComponent(match[1] as string);
  const from = Number(url.searchParams.get('from') ?? 0);
  const to = Number(url.searchParams.get('to') ?? Number.MAX_SAFE_INTEGER);
  if (!Number.isFinite(from) || !Number.isFinite(to)) return { status: 400, body: { error: 'from and to are epoch milliseconds' } };
  const owner = app.metadataForKey(MINUTE_STORE, page, (key) => pageKey.serialize(key, 'page-views')).activeHost;
  if (owner === null) return { status: 503, body: { error: 'no instance holds this page right now (rebalancing); retry shortly' } };
  if (owner === self || url.searchParams.has('local')) return { status: 200, body: localAnswer(app, self, page, from, to) };
  const forwarded = await fetch(`http://${owner}${url.pathname}?from=${from}&to=${to}&local`);
  return { status: forwarded.status, body: await forwarded.json() };
}

export interface QueryServer {
  readonly server: http.Server;
  /** host:port it listens on: the application.server to give the application. */
  readonly self: string;
  close(): Promise<void>;
}

/**
 * Starts the endpoint on `host` (port 0 picks a free one). The application is looked up per
 * request, because it is configured with this server's address and so created after it.
 */
export async function startQueryServer(host: string, port: number, app: () => StreamsApp): Promise<QueryServer> {
  let self = '';
  const server = http.createServer((request, response) => {
    answer(app(), self, new URL(request.url ?? '/', `http://${self}`))
      .catch((error: unknown) => ({ status: 500, body: { error: error instanceof Error ? error.message : String(error) } }))
      .then(({ status, body }) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  self = `${host}:${(server.address() as AddressInfo).port}`;
  return { server, self, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
