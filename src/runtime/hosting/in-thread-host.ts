import { EventEmitter } from 'node:events';
import type { MessagePort, TransferListItem } from 'node:worker_threads';
import type { Logger } from '../../logger.js';
import { serveHost } from './host-endpoint.js';
import type { FromHost, HostConfig, HostInit, ToHost } from './host-protocol.js';

/** What the runtime uses of a host: a `Worker`, or an `InThreadHost`. */
export interface HostThread {
  postMessage(m: HostInit | ToHost, transfer?: readonly TransferListItem[]): void;
  on(event: 'message', listener: (m: FromHost) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: 'exit', listener: (code: number) => void): this;
  off(event: 'message', listener: (m: FromHost) => void): this;
  terminate(): Promise<number>;
}

/**
 * The shard host on the gateway's own thread (`ORDO_WORKERS=0`): the same host as a worker
 * thread's (`serveHost`), spoken to with the same messages, without the thread. On a machine of
 * two cores a host thread shares them with the gateway, the load and the sync thread, and every
 * batch crosses twice: posted, copied, and woken for on each side. Here a batch is a call.
 *
 * Messages are delivered at once, in order, by reference: the protocol's messages are text (a
 * batch's JSON, a reply batch's text) or plain data that neither side changes after sending.
 * What a host thread's death would contain does not exist here: an exception escaping the host
 * is reported as `fatal`, and the runtime fail-stops (recovery starts from what is durable).
 */
export class InThreadHost extends EventEmitter implements HostThread {
  private readonly hostSide = new EventEmitter();
  private closed = false;
  private control: MessagePort | null = null;

  constructor(config: HostConfig, log: Logger) {
    super();
    serveHost(
      {
        once: (event, listener) => this.hostSide.once(event, listener),
        on: (event, listener) => this.hostSide.on(event, listener),
        postMessage: (m) => {
          if (!this.closed) this.emit('message', m);
        },
      },
      config,
      log,
    );
  }

  postMessage(m: HostInit | ToHost): void {
    if (this.closed) return;
    // The host's end of the control plane: a thread's ports close with it, this one by `terminate`.
    if (m.t === 'init') this.control = m.control;
    try {
      this.hostSide.emit('message', m);
    } catch (err) {
      this.emit('message', { t: 'fatal', message: `the shard host failed: ${(err as Error).message}` } satisfies FromHost);
    }
  }

  async terminate(): Promise<number> {
    this.closed = true;
    this.hostSide.removeAllListeners();
    this.control?.close();
    return 0;
  }
}
