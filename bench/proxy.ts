/**
 * A TCP proxy that delays every byte by a fixed time in each direction and counts round trips, so a
 * benchmark on one machine sees the network cost of a remote database (a round trip costs
 * 2 × `delayMs`) and can tell how many times the client waited for the server. It also injects the
 * faults a production database meets (`faults`): every connection cut at once, connects refused
 * (PostgreSQL down), or one connection cut right after the client sent a chosen message (COMMIT
 * left, its answer never arrives).
 *
 * Definition of a round trip (counted per proxied connection, then summed):
 *   The bytes of one connection form alternating TURNS: a client turn is every client→server chunk
 *   the proxy receives until the proxy delivers server→client bytes to the client; the server's
 *   bytes then form a server turn until the client sends again. A ROUND TRIP is one client turn:
 *   a client→server chunk counts as a new round trip when it is the connection's first chunk or when
 *   server bytes were delivered to the client since the client's previous chunk. A client that
 *   writes its whole pipeline (begin, setup, statement, check, commit) before reading any answer
 *   costs one; a client that awaits each step costs one per step; a connection's start-up
 *   (startup message, SCRAM exchange, type fetch) costs several and is counted apart in
 *   `connections` so callers can measure after warm-up.
 *   Timing: client chunks are stamped when they reach the proxy, server chunks when the proxy
 *   hands them to the client (after the delay), i.e. when the client could first react to them.
 *
 * Bytes keep their order in each direction (one FIFO queue and timer per direction).
 *
 * @example
 *   const proxy = await startDelayProxy({ targetPort: pg.port, delayMs: 10 });
 *   const sql = postgres(`postgres://u:p@127.0.0.1:${proxy.port}/db`);
 *   proxy.reset(); await work(); console.log(proxy.stats().roundTrips);
 */
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';

export interface DelayProxyOptions {
  targetHost?: string;
  targetPort: number;
  /** Delay added to each direction, in ms: a round trip costs twice this (default 0). */
  delayMs?: number;
  /** Listen here (default 127.0.0.1, a free port). */
  host?: string;
  port?: number;
  /** Debugging: sees every chunk (client chunks on arrival, server chunks on delivery). */
  trace?: (connection: number, direction: 'client' | 'server', data: Buffer, newRoundTrip: boolean) => void;
}

export interface ProxyStats {
  /** Client turns (see the file comment), since start or the last reset(). */
  roundTrips: number;
  /** Connections opened through the proxy since start or the last reset(). */
  connections: number;
  /** Connections open right now. */
  open: number;
  clientBytes: number;
  serverBytes: number;
}

/** Faults injected on purpose; each applies to bytes and connections arriving afterwards. */
export interface ProxyFaults {
  /** Destroys every open connection (both sides) now; returns how many were cut. */
  cutAll(): number;
  /**
   * While on, nothing listens on the proxy's port, so connects are refused (ECONNREFUSED) as by a
   * stopped database; open connections are left as they are (cutAll ends them).
   */
  refuse(on: boolean): Promise<void>;
  /**
   * The next `times` connections whose client sends a chunk containing `marker` are cut: the chunk
   * is delivered to PostgreSQL (`deliver`, the default: it runs, e.g. the COMMIT commits), dropped,
   * or (`'before'`) delivered up to the marker (what a pipeline held ahead of its COMMIT runs, the
   * COMMIT does not); then the client side is destroyed before any answer reaches it and
   * PostgreSQL's side is half-closed after what it was given.
   */
  cutAfter(marker: string | Buffer, options?: { deliver?: boolean | 'before'; times?: number }): void;
  /**
   * A network partition at `marker`: the next `times` connections whose client sends it get the
   * bytes ahead of it delivered and the rest withheld; answers still reach the client for `holdMs`,
   * then the client side is destroyed while PostgreSQL's side stays open (it hears nothing more,
   * as when a network path dies), until cutAll or close.
   */
  partitionAt(marker: string | Buffer, options?: { holdMs?: number; times?: number }): void;
  /**
   * The next `times` connections whose server sends a chunk containing `marker` are cut just before
   * it: the client gets the bytes ahead of the marker (e.g. the answers to every step before COMMIT),
   * then its side is destroyed; PostgreSQL's side is closed once it has said all (it already ran the
   * message the marker answers, e.g. COMMIT's CommandComplete).
   */
  cutBeforeReply(marker: string | Buffer, options?: { times?: number }): void;
  /** Connections cut by cutAfter or cutBeforeReply since start. */
  cutCount(): number;
}

export interface DelayProxy {
  port: number;
  host: string;
  /** The one-way delay; may be changed while running (applies to bytes arriving afterwards). */
  delayMs: number;
  stats(): ProxyStats;
  reset(): void;
  faults: ProxyFaults;
  /** Destroys every proxied connection and stops listening. */
  close(): Promise<void>;
}

/** One direction of one connection: bytes leave in arrival order, each `delay()` ms after arriving. */
class DelayedPipe {
  private queue: { due: number; data: Buffer }[] = [];
  private timer: NodeJS.Timeout | null = null;
  constructor(
    private readonly out: Socket,
    private readonly delay: () => number,
    private readonly onDeliver: (data: Buffer) => void,
  ) {}

  push(data: Buffer): void {
    const delay = this.delay();
    if (delay <= 0 && this.queue.length === 0) return this.deliver(data);
    this.queue.push({ due: performance.now() + delay, data });
    this.arm();
  }

  private deliver(data: Buffer): void {
    if (this.out.destroyed) return;
    this.onDeliver(data);
    this.out.write(data);
  }

  private arm(): void {
    if (this.timer || this.queue.length === 0) return;
    const wait = Math.max(0, this.queue[0]!.due - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      const now = performance.now();
      // setTimeout may fire up to ~1 ms early; deliver what is due (or nearly so).
      while (this.queue.length && this.queue[0]!.due <= now + 0.5) this.deliver(this.queue.shift()!.data);
      this.arm();
    }, wait);
  }

  /** Delivers what is queued, then calls `then` (used to forward a half-close in order). */
  drain(then: () => void): void {
    const check = () => (this.queue.length ? setTimeout(check, 1) : then());
    check();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue = [];
  }
}

export async function startDelayProxy(options: DelayProxyOptions): Promise<DelayProxy> {
  const targetHost = options.targetHost ?? '127.0.0.1';
  const sockets = new Set<Socket>();
  const counters = { roundTrips: 0, connections: 0, clientBytes: 0, serverBytes: 0 };
  let open = 0;
  let connectionIds = 0;
  let cuts = 0;
  const cutRules: { marker: Buffer; deliver: boolean | 'before'; left: number }[] = [];
  const replyRules: { marker: Buffer; deliver: boolean; left: number }[] = [];
  const partitionRules: { marker: Buffer; holdMs: number; left: number }[] = [];
  const closers = new Set<() => void>();

  const proxy: DelayProxy = {
    port: 0,
    host: options.host ?? '127.0.0.1',
    delayMs: options.delayMs ?? 0,
    stats: () => ({ ...counters, open }),
    reset() {
      counters.roundTrips = counters.connections = counters.clientBytes = counters.serverBytes = 0;
    },
    faults: {
      cutAll() {
        const all = [...closers];
        for (const close of all) close();
        return all.length;
      },
      async refuse(on) {
        if (on === !server.listening) return;
        if (on) server.close();
        else await listen(proxy.port);
      },
      cutAfter(marker, options = {}) {
        cutRules.push({ marker: Buffer.from(marker), deliver: options.deliver ?? true, left: options.times ?? 1 });
      },
      partitionAt(marker, options = {}) {
        partitionRules.push({ marker: Buffer.from(marker), holdMs: options.holdMs ?? 50, left: options.times ?? 1 });
      },
      cutBeforeReply(marker, options = {}) {
        replyRules.push({ marker: Buffer.from(marker), deliver: false, left: options.times ?? 1 });
      },
      cutCount: () => cuts,
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const server = createServer({ noDelay: true }, (client) => {
    counters.connections++;
    const id = ++connectionIds;
    open++;
    const upstream = connect({ host: targetHost, port: options.targetPort, noDelay: true });
    sockets.add(client);
    sockets.add(upstream);
    // True when the client has been handed server bytes since its last chunk: its next chunk opens a round trip.
    let serverSpoke = true;
    let cutting = false;
    const toServer = new DelayedPipe(
      upstream,
      () => proxy.delayMs,
      () => {},
    );
    const toClient = new DelayedPipe(
      client,
      () => proxy.delayMs,
      (data) => {
        counters.serverBytes += data.length;
        serverSpoke = true;
        options.trace?.(id, 'server', data, false);
      },
    );
    let partitioned = false;
    client.on('data', (data: Buffer) => {
      if (partitioned) return;
      const partition = partitionRules.find((r) => r.left > 0 && data.includes(r.marker));
      if (partition) {
        partition.left--;
        cuts++;
        partitioned = cutting = true;
        toServer.push(data.subarray(0, data.indexOf(partition.marker)));
        setTimeout(() => {
          toClient.stop();
          client.destroy();
        }, partition.holdMs);
        return;
      }
      const rule = cutRules.find((r) => r.left > 0 && data.includes(r.marker));
      if (rule) {
        rule.left--;
        cuts++;
        // PostgreSQL's side lives on until it has read the chunk: a reset could discard it unread.
        cutting = true;
        toClient.stop();
        client.destroy();
        if (rule.deliver === 'before') toServer.push(data.subarray(0, data.indexOf(rule.marker)));
        else if (rule.deliver) toServer.push(data);
        toServer.drain(() => upstream.end());
        return;
      }
      options.trace?.(id, 'client', data, serverSpoke);
      if (serverSpoke) counters.roundTrips++;
      serverSpoke = false;
      counters.clientBytes += data.length;
      toServer.push(data);
    });
    upstream.on('data', (data: Buffer) => {
      const rule = cutting ? undefined : replyRules.find((r) => r.left > 0 && data.includes(r.marker));
      if (!rule) return toClient.push(data);
      rule.left--;
      cuts++;
      cutting = true;
      toClient.push(data.subarray(0, data.indexOf(rule.marker)));
      // end(), not destroy(): the bytes ahead of the marker must reach the client whole.
      toClient.drain(() => {
        client.end();
        upstream.end();
      });
    });
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      closers.delete(close);
      open--;
      toServer.stop();
      toClient.stop();
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    closers.add(close);
    client.on('end', () => toServer.drain(() => upstream.end()));
    upstream.on('end', () => toClient.drain(() => client.end()));
    client.on('close', () => cutting || close());
    upstream.on('close', close);
    client.on('error', () => cutting || close());
    upstream.on('error', close);
  });

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, proxy.host, () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
  await listen(options.port ?? 0);
  proxy.port = (server.address() as AddressInfo).port;
  return proxy;
}

/** The proxy in a child process, so its forwarding never waits for the load generator's JavaScript. */
export interface ProxyProcess {
  port: number;
  host: string;
  /** The proxy's process, whose CPU the bench reports per call (none when it runs in-process). */
  pid?: number;
  setDelay(ms: number): Promise<void>;
  stats(): Promise<ProxyStats>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

type Command = { id: number; op: 'delay' | 'stats' | 'reset' | 'close'; ms?: number };

export async function startDelayProxyProcess(options: Omit<DelayProxyOptions, 'trace'>): Promise<ProxyProcess> {
  const { fork } = await import('node:child_process');
  const child = fork(new URL(import.meta.url).pathname, ['--serve', JSON.stringify(options)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map<number, (value: unknown) => void>();
  let nextId = 0;
  const ready = new Promise<{ port: number; host: string }>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the proxy process exited (${code})`)));
    child.on('message', (message: { id?: number; ready?: { port: number; host: string }; value?: unknown }) => {
      if (message.ready) resolve(message.ready);
      else if (message.id !== undefined) waiting.get(message.id)?.(message.value), waiting.delete(message.id);
    });
  });
  const { port, host } = await ready;
  const ask = <T>(command: Omit<Command, 'id'>): Promise<T> =>
    new Promise((resolve) => {
      const id = ++nextId;
      waiting.set(id, resolve as (value: unknown) => void);
      child.send({ ...command, id });
    });
  return {
    port,
    host,
    pid: child.pid,
    setDelay: (ms) => ask({ op: 'delay', ms }),
    stats: () => ask<ProxyStats>({ op: 'stats' }),
    reset: () => ask({ op: 'reset' }),
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send({ op: 'close', id: 0 });
      await exited;
    },
  };
}

// Child-process side of startDelayProxyProcess.
if (process.argv[2] === '--serve' && process.send) {
  const proxy = await startDelayProxy(JSON.parse(process.argv[3]!) as DelayProxyOptions);
  process.on('message', async (command: Command) => {
    let value: unknown = null;
    if (command.op === 'delay') proxy.delayMs = command.ms ?? 0;
    else if (command.op === 'stats') value = proxy.stats();
    else if (command.op === 'reset') proxy.reset();
    else if (command.op === 'close') {
      await proxy.close();
      process.disconnect?.();
      return;
    }
    process.send!({ id: command.id, value });
  });
  process.send({ ready: { port: proxy.port, host: proxy.host } });
}
