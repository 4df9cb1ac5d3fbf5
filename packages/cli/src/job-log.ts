// `autocal logs JOB [--follow]`: a job's log through the job-executor's
// `GET /jobs/:id/log` route, with the read token.

/**
 * The log link of a job: `<executor>/jobs/<job id, URL-encoded>/log?try=N`.
 * Job ids contain slashes ("prompt/run-357478/timing-reco/1/0"); the route
 * takes the id as one path segment, so each slash is sent as %2F — the form
 * the executor itself publishes in a job status's log_url.
 */
export function logUrlOf (executor: string, jobId: string, tryNo: number, o: { tail?: number, follow?: boolean } = {}): string {
  const query = [`try=${tryNo}`, ...(o.tail === undefined ? [] : [`tail=${o.tail}`]), ...(o.follow === true ? ['follow=1'] : [])]
  return `${executor.replace(/\/+$/, '')}/jobs/${encodeURIComponent(jobId)}/log?${query.join('&')}`
}

/**
 * Fetches a log link and hands its text to `chunk` as it arrives (the whole
 * log, or with follow=1 line groups until the job ends). HTTP errors become
 * one-line errors with the executor's own sentence (401: no read token; 404:
 * no log for this job and try).
 */
export async function readJobLog (url: string, token: string | undefined, chunk: (text: string) => void, signal?: AbortSignal): Promise<void> {
  let res: Response
  try {
    res = await fetch(url, { ...(token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } }), ...(signal === undefined ? {} : { signal }) })
  } catch (err) {
    throw new Error(`cannot reach the job-executor for ${url} (--executor / AUTOCAL_EXECUTOR_URL): ${(err as Error).message}`, { cause: err })
  }
  if (!res.ok) {
    const body = await res.json().catch(() => ({})) as { error?: string }
    const hint = res.status === 401 ? ' (a read token: AUTOCAL_READ_TOKEN, AUTOCAL_READ_TOKEN_FILE or readTokenFile in the config file)' : ''
    throw new Error(`${url}: HTTP ${res.status}${body.error === undefined ? '' : `: ${body.error}`}${hint}`)
  }
  if (res.body === null) return
  const decoder = new TextDecoder()
  for await (const part of res.body) chunk(decoder.decode(part, { stream: true }))
  const rest = decoder.decode()
  if (rest !== '') chunk(rest)
}
