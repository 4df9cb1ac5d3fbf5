// Mattermost incoming webhook: POST {text, username?, channel?} as JSON.
import type { MattermostPayload } from '../domain/notifications.ts'

export interface Mattermost {
  post: (payload: MattermostPayload) => Promise<void>
}

export function createMattermost (options: { url: string, timeoutMs?: number }): Mattermost {
  return {
    post: async payload => {
      let res: Response
      try {
        res = await fetch(options.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(payload),
          signal: AbortSignal.timeout(options.timeoutMs ?? 5000)
        })
      } catch (err) {
        throw new Error(`mattermost webhook unreachable: ${(err as Error).message}`, { cause: err })
      }
      if (!res.ok) {
        const body = (await res.text().catch(() => '')).slice(0, 200)
        throw new Error(`mattermost webhook answered ${res.status}: ${body}`)
      }
      await res.body?.cancel()
    }
  }
}
