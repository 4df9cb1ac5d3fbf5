// The identity of a run event. Every announced change of a subject (a run, or
// one readiness fact of a run) gets the next number of that subject's change
// sequence, so that every distinct change has its own id, even a correction
// that returns to an earlier value (A → B → A): ids made from the content
// alone would take the third for the first and drop it. The same decision
// announced again (a redelivery after a crash between the publish and the
// write of the known state) has the same number and content, hence the same
// id, and consumers drop it. The content hash stays in the id so that two
// replicas that decided different contents at the same number both go out.

/**
 * `runs/<run>/<n>/<change>/<content hash>[/<campaign>]`: the id of the
 * `sequence`-th change (1, 2, …) of `subject` of run `run`.
 */
export function runEventId (run: number, sequence: number, change: string, contentHash: string, campaign = ''): string {
  return `runs/${run}/${sequence}/${change}/${contentHash}${campaign === '' ? '' : `/${campaign}`}`
}

/** The change sequence number in an id made by runEventId; undefined for any other id (e.g. those written before numbers). */
export function sequenceOf (eventId: string): number | undefined {
  const m = /^runs\/\d+\/(\d+)\/[a-z_]+\/[0-9a-f]+(\/|$)/.exec(eventId)
  return m === null ? undefined : Number(m[1])
}

/** The subject whose change sequence an event counts in: a run (`run:<run>`) or one fact (`fact:<fact key>`). */
export function runSubject (run: number): string {
  return `run:${run}`
}

export function factSubject (factKey: string): string {
  return `fact:${factKey}`
}

/** A run injected for a reprocessing campaign counts apart from the live run. */
export function campaignSubject (campaign: string, run: number): string {
  return `campaign:${campaign}:run:${run}`
}
