import type { Logger } from '../../logger.js';
import { systemClock } from '../kernel/clock.js';
import { Comlink, nodeEndpoint } from './comlink.js';
import { type FromHost, type HostConfig, type HostInit, type ToHost, unpackBatch } from './host-protocol.js';
import { ShardHost } from './shard-host.js';

/** The host's end of its channel to the main thread: a worker's `parentPort`, or an in-thread host's (in-thread-host.ts). */
export interface HostEndpoint {
  once(event: 'message', listener: (m: HostInit) => void): unknown;
  on(event: 'message', listener: (m: ToHost) => void): unknown;
  postMessage(m: FromHost): void;
}

/**
 * Serves a shard host on `port`, wherever it runs. The main thread sends, in order: `init` (peer
 * ports and the control-plane port), then batches; it sends `start` once every host recovered.
 */
export function serveHost(port: HostEndpoint, config: HostConfig, log: Logger): void {
  const post = (m: FromHost) => port.postMessage(m);
  const host = new ShardHost(config, post, systemClock, log);
  port.once('message', (init: HostInit) => {
    host.connectPeers(init.peers);
    Comlink.expose(
      { inspect: (key: string) => host.inspect(key), stats: () => host.stats(), compact: () => host.compact(), dashboard: (n: number) => host.dashboard(n) },
      nodeEndpoint(init.control),
    );
    port.on('message', (m: ToHost) => {
      if (m.t === 'batch') host.receive(unpackBatch(m.json));
      else if (m.t === 'items') host.receive(m.items);
      else if (m.t === 'peer') host.replacePeer(m.index, m.port);
      else if (m.t === 'interest') host.wantEvents = m.events;
      else if (m.t === 'start') host.start();
      else if (m.t === 'stop') {
        void host.stop().then(() => {
          post({ t: 'stopped' });
        });
      }
    });
    host.recover().then(
      (stats) => post({ t: 'recovered', stats }),
      (err: Error) => post({ t: 'fatal', message: err.message }),
    );
  });
}
