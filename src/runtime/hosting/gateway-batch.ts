/**
 * What a shard host hands the main thread in one post: its outputs for the gateway, in the order
 * they were released, as one string of length-prefixed records. A command's reply is the text
 * its frame ends with (`clientReplyTail`), made once here: the main thread neither parses it nor
 * serialises it again, it prefixes the command's id and writes it out. No JSON is nested inside
 * JSON (that would escape every quote of a reply on one side and unescape it on the other).
 *
 * Records, one after another:
 * - `R<cid>,<outcome>,<length>:<tail>`: the reply to command `cid`, its client's view;
 * - `F<cid>,<length>:<json>`: the reply to command `cid` as a whole, when it has fields only the
 *   gateway reads (`queue.list`'s `orderIds`): what the gateway asks for itself needs them;
 * - `O<length>:<json>`: any other output (an event, a shard's page of a query).
 */
import { clientReplyTail, EncodedReply, hasInternalFields, outcomeOf } from '../../gateway/encoded-reply.js';
import type { Reply } from '../../protocol/messages.js';
import type { GatewayOutput } from '../kernel/envelope.js';

/** How a host collects its outputs for the gateway until it posts them (`take`). */
export interface GatewayBatchBuilder {
  readonly empty: boolean;
  add(o: GatewayOutput): void;
  take(): string | GatewayOutput[];
}

/** Builds one batch on a host thread. */
export class GatewayBatchWriter implements GatewayBatchBuilder {
  private text = '';

  get empty(): boolean {
    return this.text.length === 0;
  }

  add(o: GatewayOutput): void {
    if (o.t === 'result') this.result(o.cid, o.reply);
    else this.record('O', JSON.stringify(o));
  }

  private result(cid: number, reply: Reply): void {
    if (hasInternalFields(reply)) {
      this.record(`F${cid},`, JSON.stringify(reply));
    } else {
      this.record(`R${cid},${outcomeOf(reply)},`, clientReplyTail(reply));
    }
  }

  private record(head: string, body: string): void {
    this.text += `${head}${body.length}:${body}`;
  }

  /** The batch's text, and a new empty batch begins. */
  take(): string {
    const text = this.text;
    this.text = '';
    return text;
  }
}

/**
 * A host on the gateway's own thread hands its outputs over as they are: nothing crosses a
 * thread, so writing replies into a batch's text and reading them back out was pure cost
 * (measured in the runtime alone: 40–46 against 31–32 µs of CPU per placement). A reply is encoded for the wire by
 * the gateway (`EncodedReply.frame`), once, as it would have been here. Outputs are never changed
 * once released, so handing them by reference is safe.
 */
export class GatewayOutputList implements GatewayBatchBuilder {
  private outputs: GatewayOutput[] = [];

  get empty(): boolean {
    return this.outputs.length === 0;
  }

  add(o: GatewayOutput): void {
    this.outputs.push(o);
  }

  take(): GatewayOutput[] {
    const out = this.outputs;
    this.outputs = [];
    return out;
  }
}

/** Where the main thread hands a batch's records, in order. */
export interface GatewayBatchSink {
  result(cid: number, reply: EncodedReply): void;
  other(o: Exclude<GatewayOutput, { t: 'result' }>): void;
}

const R = 'R'.charCodeAt(0);
const F = 'F'.charCodeAt(0);

/** Reads a batch made by `GatewayBatchWriter` (record by record) or by `GatewayOutputList`. */
export function readGatewayBatch(batch: string | GatewayOutput[], sink: GatewayBatchSink): void {
  if (typeof batch !== 'string') {
    for (const o of batch) {
      if (o.t === 'result') sink.result(o.cid, EncodedReply.of(o.reply));
      else sink.other(o);
    }
    return;
  }
  const text = batch;
  let at = 0;
  while (at < text.length) {
    const kind = text.charCodeAt(at);
    let cid = 0;
    let outcome = '';
    let field = at + 1;
    if (kind === R || kind === F) {
      const comma = text.indexOf(',', field);
      cid = digits(text, field, comma);
      field = comma + 1;
    }
    if (kind === R) {
      // Nearly every reply is `ok`: that one is not cut out of the batch.
      const comma = text.indexOf(',', field);
      outcome = text.startsWith('ok,', field) ? 'ok' : text.slice(field, comma);
      field = comma + 1;
    }
    const colon = text.indexOf(':', field);
    const start = colon + 1;
    const end = start + digits(text, field, colon);
    const body = text.slice(start, end);
    at = end;
    if (kind === R) sink.result(cid, EncodedReply.ofClientTail(outcome, body));
    else if (kind === F) sink.result(cid, EncodedReply.of(JSON.parse(body) as Reply));
    else sink.other(JSON.parse(body) as Exclude<GatewayOutput, { t: 'result' }>);
  }
}

/** The decimal number `text` has from `from` to `to` (a count or a cid the writer put there). */
function digits(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) n = n * 10 + text.charCodeAt(i) - 48;
  return n;
}
