/**
 * Entry point of a worker thread hosting shards. The main thread sends, in order: `init` (peer
 * ports and the control-plane port), then batches; it sends `start` once every host recovered.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../../logger.js';
import { systemClock } from '../kernel/clock.js';
import { Comlink, nodeEndpoint } from './comlink.js';
import { type FromHost, type HostConfig, type HostInit, type ToHost, unpackBatch } from './host-protocol.js';
import { ShardHost } from './shard-host.js';

const port = parentPort!;
const config = workerData as HostConfig;
const log = createLogger(`shard-host-${config.index}`);
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
