/**
 * A TCP proxy the test controls, between a browser and the gateway's HTTP/WebSocket port: it can
 * cut every connection and refuse new ones for a while (a Wi-Fi blip, a NAT rebinding) while the
 * UDP media path stays untouched.
 */
import net from 'node:net';

export class TcpProxy {
  private readonly sockets = new Set<net.Socket>();
  private blockedUntil = 0;
  private blocked = false;
  /** Connections accepted and refused, for assertions. */
  readonly stats = { accepted: 0, refused: 0 };

  private constructor(
    private readonly server: net.Server,
    private target: { host: string; port: number },
  ) {}

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    let proxy!: TcpProxy;
    const server = net.createServer((client) => proxy.accept(client));
    proxy = new TcpProxy(server, target);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  /** Points new connections elsewhere (a restarted gateway on another port). */
  retarget(target: { host: string; port: number }): void {
    this.target = target;
  }

  private accept(client: net.Socket): void {
    if (this.blocked || Date.now() < this.blockedUntil) {
      this.stats.refused++;
      client.destroy();
      return;
    }
    this.stats.accepted++;
    const upstream = net.connect(this.target.port, this.target.host);
    this.sockets.add(client);
    this.sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Cuts every connection now and refuses new ones for `ms`. */
  cut(ms: number): void {
    this.blockedUntil = Date.now() + ms;
    this.dropAll();
  }

  /** Cuts every connection and refuses new ones until {@link restore}. */
  block(): void {
    this.blocked = true;
    this.dropAll();
  }

  restore(): void {
    this.blocked = false;
    this.blockedUntil = 0;
  }

  private dropAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
