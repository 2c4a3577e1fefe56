import type { OwnerRecord } from './owner-records.js';

/** One journal's route as `/healthz` shows it: the node this node sends its commands to. */
export interface RouteView {
  journal: number;
  /** `null`: no owner known (never recorded, or released). */
  node: string | null;
  epoch: number | null;
}

/**
 * Where this node sends each journal's commands and actor messages: the newest owner record it
 * has seen of each (OwnerRecords' watch). A hint that heals: an owner refuses (`moved`) what is
 * not its own and the sender looks again, and an owner rewrites a record gone missing
 * (owner-record-keeper.ts). An older epoch never replaces a newer record that names a node. A
 * deleted record (its owner released the journal) keeps its epoch known with no node, so that
 * mail stamped with an older epoch is still refused.
 */
export class OwnerRoutes {
  private readonly byJournal = new Map<number, OwnerRecord>();

  get(journal: number): OwnerRecord | undefined {
    return this.byJournal.get(journal);
  }

  /**
   * Applies a record seen in the watch (`null`: deleted). True when it names an epoch not known
   * before: the journal has a new owner, which may lack what was sent to the old one.
   */
  update(journal: number, r: OwnerRecord | null): boolean {
    const before = this.byJournal.get(journal);
    if (r === null) {
      if (before) this.byJournal.set(journal, { ...before, node: '' });
      return false;
    }
    if (before && before.epoch >= r.epoch && before.node !== '') return false;
    this.byJournal.set(journal, r);
    return before?.epoch !== r.epoch;
  }

  /**
   * Every journal's route, for `/healthz`. A node whose routes disagree with the owners' own
   * `/healthz` for long parks or refuses that journal's traffic: what a stale record looks like.
   */
  view(journals: number): RouteView[] {
    return Array.from({ length: journals }, (_, journal) => {
      const r = this.byJournal.get(journal);
      return { journal, node: r?.node ? r.node : null, epoch: r ? r.epoch : null };
    });
  }
}
