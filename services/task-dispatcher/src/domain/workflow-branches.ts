// Workflow branches and shadow campaigns (issue 17): a second version of a
// workflow (`branch: dev`) loaded beside the production file, running in
// campaigns of its own; a live campaign of a branch is a shadow campaign, which
// must have no effect on production. Pure: the rules of one campaign and the
// rules that span the loaded files, as messages naming file:line:col.
import { promptCampaign, uploadsOf, type CampaignDef, type Upload, type Workflow } from './workflow.ts'

/** A problem of one campaign entry: the key under `campaigns.<i>` it is about ([] = the entry) and the message. */
export interface CampaignProblem { key: string[], message: string }

/**
 * What is wrong with a campaign of a file of workflow branch `branch` ('' = production), on its own:
 * - `prompt` always receives the live runs (`live: false` is refused);
 * - a branch may not list `prompt` (production's live campaign);
 * - `shadow: true` only in a branch file (a production campaign is production);
 * - a branch's live campaign must be a shadow campaign (`shadow: true`): it sees production's runs.
 * Returns [] when the campaign is fine.
 */
export function campaignProblems (c: CampaignDef, branch: string): CampaignProblem[] {
  const out: CampaignProblem[] = []
  if (c.name === promptCampaign && !c.live) out.push({ key: ['live'], message: `campaign '${promptCampaign}' receives the live runs; it cannot be live: false` })
  if (branch !== '' && c.name === promptCampaign) {
    out.push({ key: [], message: `branch '${branch}' may not run in campaign '${promptCampaign}' (production's); list a campaign of its own, e.g. { name: …, live: true, shadow: true }` })
  } else if (branch !== '' && c.live && !c.shadow) {
    out.push({ key: ['live'], message: `campaign '${c.name}' of branch '${branch}' receives live runs; a branch's live campaign must say shadow: true (no effect on production)` })
  }
  if (branch === '' && c.shadow) out.push({ key: ['shadow'], message: `campaign '${c.name}' is a shadow campaign but the file is production; a shadow campaign runs a workflow branch (add branch: … at the top of the file)` })
  return out
}

/**
 * Why a shadow campaign may not make `upload` (the upload as the campaign's settings would make it, before
 * {@link uploadsOf} forces a dry run), or undefined: a shadow campaign's upload is a dry run, or goes to a tag of
 * synchronization `validation` its `conditions.tags` give the task (issue 17).
 */
export function shadowUploadProblem (c: Pick<CampaignDef, 'name'>, u: Pick<Upload, 'payloadFrom' | 'dryRun' | 'sync' | 'tag'>): string | undefined {
  if (u.dryRun || u.sync === 'validation') return undefined
  return `shadow campaign '${c.name}' would write task '${u.payloadFrom}' payloads to ${u.sync} tag ${u.tag}; a shadow campaign uploads as a dry run ` +
    `(leave conditions.dryRun unset or true) or to a tag of its own with sync: validation (conditions.tags.${u.payloadFrom}: { tag: …, sync: validation })`
}

const branchText = (b: string): string => b === '' ? 'production' : `branch '${b}'`

/**
 * The rules that span the loaded files, one message per fault, each naming both places (file:line:col):
 * - one file per (subsystem, workflow, branch): a branch file is loaded beside the production file, two files
 *   of the same branch (or two production files) are refused;
 * - a branch file may not list a campaign a production file lists (of any subsystem);
 * - a shadow campaign may not write to a tag any production campaign writes (dry runs included: a production
 *   campaign's tag is production's whatever its current setting).
 */
export function branchProblems (workflows: readonly Workflow[]): string[] {
  const out: string[] = []
  const first = new Map<string, Workflow>()
  for (const w of workflows) {
    const id = `${w.subsystem}/${w.workflow}@${w.branch}`
    const other = first.get(id)
    if (other !== undefined) out.push(`${w.places.branch as string} workflow: workflow ${w.subsystem}/${w.workflow} (${branchText(w.branch)}) is also declared in ${other.places.branch as string}; one file per workflow and branch`)
    else first.set(id, w)
  }
  const production = workflows.filter(w => w.branch === '')
  const productionCampaign = (name: string): string | undefined => {
    for (const p of production) {
      const i = p.campaigns.findIndex(c => c.name === name)
      if (i >= 0) return p.places[`campaigns.${i}`]
    }
    return undefined
  }
  const productionTags = new Map<string, string>()
  for (const p of production) {
    for (const c of p.campaigns) {
      for (const u of uploadsOf(p.tasks, c).values()) if (!productionTags.has(u.tag)) productionTags.set(u.tag, p.places[`tags.${c.name}.${u.payloadFrom}`] as string)
    }
  }
  for (const w of workflows) {
    if (w.branch === '') continue
    w.campaigns.forEach((c, i) => {
      const here = w.places[`campaigns.${i}`] as string
      const prod = productionCampaign(c.name)
      if (prod !== undefined) out.push(`${here} campaigns: campaign '${c.name}' of branch '${w.branch}' is a production campaign (${prod}); a branch runs in campaigns of its own`)
      if (!c.shadow) return
      for (const u of uploadsOf(w.tasks, c).values()) {
        const theirs = productionTags.get(u.tag)
        if (u.dryRun || theirs === undefined) continue
        out.push(`${w.places[`tags.${c.name}.${u.payloadFrom}`] as string} campaigns: shadow campaign '${c.name}' writes task '${u.payloadFrom}' payloads to tag ${u.tag}, which production writes (${theirs}); give it a validation tag of its own`)
      }
    })
  }
  return out
}
