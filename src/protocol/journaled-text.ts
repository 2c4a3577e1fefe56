/**
 * A reply that carries a value its turn also journaled, serialised once: the reply reuses the
 * text the journal frame already holds.
 *
 * An order's state leaves every turn that changes it twice as JSON: in the turn's journal record
 * and in the reply. The record is encoded when the turn ends (`encodeRecord`) and the reply after
 * the commit, so the reply can take its order's JSON from the record's text instead of
 * serialising the order again (docs/PERFORMANCE.md, the twelfth round on issue 13).
 */

/**
 * The JSON of one turn's records (`[record]`) as its journal frame holds them. The runtime fills
 * it in when the turn ends, and only if the turn persisted exactly one record; until then, and
 * otherwise, it stays null and the reply is serialised as usual. It is never itself serialised:
 * a reply carrying one (`orderText`) is written without it.
 */
export class JournaledText {
  records: string | null = null;

  /** Left out of any JSON (a reply stringified whole, or sent between nodes). */
  toJSON(): undefined {
    return undefined;
  }
}

/**
 * The JSON of field `field` of the turn's only record, when that record is `{ [field]: value }`
 * (that field alone) and has been encoded; undefined otherwise.
 */
export function recordFieldJson(text: JournaledText | undefined, field: string): string | undefined {
  const records = text?.records;
  // `[{"<field>":` before the value, `}]` after it.
  return records == null ? undefined : records.slice(field.length + 5, records.length - 2);
}
