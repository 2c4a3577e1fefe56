import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { Envelope } from '../kernel/envelope.js';
import { packBatch, type ToPeer, unpackBatch } from './host-protocol.js';

/**
 * The direct channels from one host thread to the others: messages for another host's shards are
 * queued per host and posted as one batch per turn of the event loop, never one post per message.
 */
export class PeerRouter {
  private peers: (MessagePort | null)[] = [];
  private queued: Envelope[][];

  constructor(
    hosts: number,
    private readonly onMessage: (batch: Envelope[]) => void,
  ) {
    this.queued = Array.from({ length: hosts }, () => []);
  }

  connect(ports: (MessagePort | null)[]): void {
    this.peers = ports;
    for (const p of ports) p?.on('message', (m: ToPeer) => this.onMessage(unpackBatch<Envelope>(m)));
  }

  /** A peer host was replaced (its thread died): a new channel, and nothing queued for the old one. */
  replace(index: number, port: MessagePort): void {
    this.peers[index]?.close();
    this.peers[index] = port;
    port.on('message', (m: ToPeer) => this.onMessage(unpackBatch<Envelope>(m)));
    this.queued[index] = [];
  }

  send(host: number, env: Envelope): void {
    this.queued[host]!.push(env);
  }

  sendAll(host: number, envs: Envelope[]): void {
    for (const env of envs) this.queued[host]!.push(env);
  }

  /** Posts what is queued: one batch per host. */
  flush(): void {
    for (let w = 0; w < this.queued.length; w++) {
      const batch = this.queued[w]!;
      if (batch.length === 0) continue;
      this.peers[w]?.postMessage(packBatch(batch) satisfies ToPeer);
      this.queued[w] = [];
    }
  }
}

/** One MessageChannel per pair of hosts: actor messages between threads never pass through main. */
export function pairChannels(count: number): (MessagePort | null)[][] {
  const peers: (MessagePort | null)[][] = Array.from({ length: count }, () => Array.from({ length: count }, () => null));
  for (let a = 0; a < count; a++) {
    for (let b = a + 1; b < count; b++) {
      const ch = new MessageChannel();
      peers[a]![b] = ch.port1;
      peers[b]![a] = ch.port2;
    }
  }
  return peers;
}
