import { test } from 'uvu';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { ActorMail, type ActorMailHost } from '../src/runtime/cluster/actor-mail.js';
import type { JournalHost } from '../src/runtime/cluster/journal-host.js';
import type { OwnerRecord } from '../src/runtime/cluster/owner-records.js';
import type { Envelope } from '../src/runtime/kernel/envelope.js';

// The receiving side of actor messages between nodes, without NATS: epochs and moved journals.
function fakeHost(journalNo: number, epoch: number, serving = true) {
  const delivered: Envelope[] = [];
  const host = { journalNo, epoch, serving, dropped: false, suspect: false, deliver: (env: Envelope) => delivered.push(env) } as unknown as JournalHost;
  return { host, delivered };
}

function node(hosts: Map<number, JournalHost>, routes: Map<number, OwnerRecord>): ActorMailHost {
  return {
    nc: null as unknown as NatsConnection,
    cluster: 't',
    node: 'me',
    hosts,
    routes,
    // Keys name their journal: "j<n>:...".
    journalOfKey: (key) => Number(/^j(\d+):/.exec(key)![1]),
    serves: (h): h is JournalHost => !!h && h.serving,
  };
}

const req = (to: string): Envelope => ({ t: 'req', to, from: 'j9:sender', id: 1, request: { type: 'noop' } as never });

test('a message from an epoch older than the owner this node knows of is refused as stale; others are delivered or sent back as moved', () => {
  const served = fakeHost(1, 3);
  const hosts = new Map<number, JournalHost>([[1, served.host]]);
  // Journal 9 (the senders') has been taken over in epoch 7.
  const routes = new Map<number, OwnerRecord>([[9, { node: 'other', epoch: 7, since: 0, sequence: 10 }]]);
  const mail = new ActorMail(node(hosts, routes));
  const refused = mail.receive([
    { env: req('j1:a'), j: 9, e: 6 }, // the stale owner of journal 9
    { env: req('j1:b'), j: 9, e: 7 }, // its current owner
    { env: req('j2:c'), j: 9, e: 8 }, // a newer epoch than known (the watch lags): accepted, but journal 2 is not served here
  ]);
  assert.deepEqual(refused, { 0: 's', 2: 'm' });
  assert.deepEqual(served.delivered.map((e) => e.to), ['j1:b']);
});

test('a journal being released (not serving) sends every message back as moved', () => {
  const releasing = fakeHost(1, 3, false);
  const mail = new ActorMail(node(new Map([[1, releasing.host]]), new Map()));
  assert.deepEqual(mail.receive([{ env: req('j1:a'), j: 9, e: 1 }]), { 0: 'm' });
  assert.equal(releasing.delivered.length, 0);
});

test('a dropped (fenced) journal sends nothing; a message for a journal served here is delivered in process', () => {
  const local = fakeHost(1, 2);
  const sender = fakeHost(9, 4);
  const mail = new ActorMail(node(new Map([[1, local.host], [9, sender.host]]), new Map()));
  mail.route(req('j1:x'), sender.host);
  assert.deepEqual(local.delivered.map((e) => e.to), ['j1:x']);
  (sender.host as { dropped: boolean }).dropped = true;
  mail.route(req('j1:y'), sender.host);
  assert.deepEqual(local.delivered.map((e) => e.to), ['j1:x'], 'nothing from a stale owner');
  mail.stop();
});

test.run();
