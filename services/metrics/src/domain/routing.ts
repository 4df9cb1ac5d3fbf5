// Where a notification goes: routes select notifications by kind and by
// subsystem and name a Mattermost webhook and/or channel. A notification goes
// to every route that selects it (e.g. the subsystem's failures channel and the
// experts' channel); when none does, to the default route (the service's
// AUTOCAL_MATTERMOST_WEBHOOK_URL / _CHANNEL). A notification about a task of a
// campaign with its own channel (workflow YAML `notify: CHANNEL`, carried by
// the task events) goes to that channel only: the route named CHANNEL when one
// is configured, else the default webhook with Mattermost channel CHANNEL.
import { notificationKinds, type Notification, type NotificationKind } from './notifications.ts'

export interface Route {
  /** Names the route in de-duplication keys, rate-limit counters, digests and logs: [a-z0-9-]. */
  name: string
  /** Kinds this route takes; absent = every kind. */
  kinds?: NotificationKind[]
  /** Audiences this route takes (`failures`, `experts`, see notificationKinds); absent = both. */
  audiences?: Array<'failures' | 'experts'>
  /** Subsystems this route takes (exact, e.g. `ECAL`); absent = every notification, system-wide ones included. */
  subsystems?: string[]
  /** Incoming webhook; absent = the default webhook. */
  webhook?: string
  /** Channel override; absent = the webhook's own channel (or the default channel when the webhook is the default one). */
  channel?: string
  /**
   * The route is a campaign's own channel (workflow YAML `notify: <route name>`): it takes only the notifications
   * of the campaigns that name it, never others by kind or subsystem.
   */
  campaignChannel?: boolean
}

export const defaultRouteName = 'default'

/** Whether `route` takes `n`. A route limited to subsystems never takes a system-wide notification (subsystem ''). */
export function routeTakes (route: Route, n: Notification): boolean {
  if (route.campaignChannel === true) return false
  if (route.kinds !== undefined && !route.kinds.includes(n.kind)) return false
  if (route.audiences !== undefined && !route.audiences.includes(notificationKinds[n.kind])) return false
  if (route.subsystems !== undefined && !route.subsystems.includes(n.subsystem ?? '')) return false
  return true
}

/**
 * The route of a campaign's own notification channel (`notify: CHANNEL` of its workflow YAML): the configured
 * route named CHANNEL, else CHANNEL on the default webhook (a new Route object each call; compare by name).
 */
export function campaignRoute (channel: string, routes: readonly Route[]): Route {
  return routes.find(r => r.name === channel) ?? { name: channel, channel }
}

/**
 * The routes a notification goes to: the campaign's own channel alone when it has one ({@link campaignRoute};
 * a shadow campaign's failures stay out of production's channels), else every configured route that takes it,
 * else the default route.
 */
export function routesFor (n: Notification, routes: readonly Route[], fallback: Route): Route[] {
  if (n.campaignChannel !== undefined && n.campaignChannel !== '') return [campaignRoute(n.campaignChannel, routes)]
  const chosen = routes.filter(r => routeTakes(r, n))
  return chosen.length > 0 ? chosen : [fallback]
}

/**
 * Checks a list of routes (parsed from AUTOCAL_NOTIFY_ROUTES): returns one
 * problem per fault, naming the route by its index and name; [] when fine.
 */
export function routeProblems (routes: readonly Route[]): string[] {
  const problems: string[] = []
  const seen = new Set<string>()
  routes.forEach((r, i) => {
    const at = `route ${i} (${r.name})`
    if (!/^[a-z0-9][a-z0-9-]*$/.test(r.name)) problems.push(`${at}: name must be lower-case letters, digits and '-'`)
    if (r.name === defaultRouteName) problems.push(`${at}: '${defaultRouteName}' is the name of the fallback route`)
    if (seen.has(r.name)) problems.push(`${at}: name used twice`)
    seen.add(r.name)
    for (const k of r.kinds ?? []) if (!(k in notificationKinds)) problems.push(`${at}: unknown kind '${k}' (known: ${Object.keys(notificationKinds).join(', ')})`)
    if (r.kinds?.length === 0 || r.subsystems?.length === 0 || r.audiences?.length === 0) problems.push(`${at}: an empty list selects nothing; leave the key out to select all`)
  })
  return problems
}
