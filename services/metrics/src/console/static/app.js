// The autocal console: one page, four views chosen by the URL hash
//   #/overview?campaign=&subsystem=&task=&state=&before=   #/runs/<run>?task=<task key>
//   #/conditions?tag=<tag>                                 #/health
// Preact + htm (one ES module) and Chart.js (UMD, window.Chart), both served
// by the metrics service from its node_modules. Filters live in the hash, so a
// link or a reload shows the same view.
/* global location, addEventListener, removeEventListener, EventSource */
import { html, render, useEffect, useRef, useState } from '/console/vendor/preact-htm.js'

const states = ['new', 'waiting', 'processing', 'done', 'failed', 'skipped', 'cancelled']

function parseHash () {
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?')
  return { path: path === '' ? '/overview' : path, params: new URLSearchParams(query) }
}

function hrefOf (path, params = {}) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ''))
  const s = q.toString()
  return `#${path}${s === '' ? '' : `?${s}`}`
}

async function getJson (url) {
  const res = await fetch(url)
  // no read token (or no longer accepted): sign in once, the browser keeps it in a cookie
  if (res.status === 401) location.assign('/console/login')
  const body = await res.json()
  if (!res.ok) throw new Error(body.message ?? `${res.status}`)
  return body
}

function useHash () {
  const [hash, setHash] = useState(parseHash())
  useEffect(() => {
    const on = () => setHash(parseHash())
    addEventListener('hashchange', on)
    return () => removeEventListener('hashchange', on)
  }, [])
  return hash
}

// One EventSource for the page; views subscribe to task/condition changes.
const changeListeners = new Set()
let liveState = 'off'
const liveListeners = new Set()
function startChangeFeed () {
  const source = new EventSource('/api/v1/events')
  const setLive = s => { liveState = s; for (const l of liveListeners) l(s) }
  source.onopen = () => setLive('on')
  source.onerror = () => setLive('off')
  for (const type of ['task', 'condition']) {
    source.addEventListener(type, e => { const data = JSON.parse(e.data); for (const l of changeListeners) l(type, data) })
  }
}

function useChanges (listener, deps) {
  useEffect(() => {
    let timer
    const debounced = (type, data) => {
      if (!listener.accepts(type, data)) return
      clearTimeout(timer)
      timer = setTimeout(listener.run, 400)
    }
    changeListeners.add(debounced)
    return () => { clearTimeout(timer); changeListeners.delete(debounced) }
  }, deps)
}

function useLive () {
  const [live, setLive] = useState(liveState)
  useEffect(() => {
    liveListeners.add(setLive)
    // the feed may have opened between the render and this effect (CI, under load: the header stayed "reconnecting")
    setLive(liveState)
    return () => liveListeners.delete(setLive)
  }, [])
  return live
}

function duration (ms) {
  const neg = ms < 0
  let s = Math.round(Math.abs(ms) / 1000)
  const d = Math.floor(s / 86400); s -= d * 86400
  const h = Math.floor(s / 3600); s -= h * 3600
  const m = Math.floor(s / 60); s -= m * 60
  const text = d > 0 ? `${d} d ${h} h` : h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${s} s` : `${s} s`
  return neg ? `-${text}` : text
}

function time (iso) {
  if (iso === undefined || iso === null || iso === '') return '—'
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')
}

function bytes (n) {
  if (n < 1024) return `${n} B`
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`
  return `${(n / 1024 ** 3).toFixed(2)} GiB`
}

const State = ({ s }) => html`<span class="state ${s}">${s}</span>`

function Hold ({ hold }) {
  if (hold === undefined) return null
  return hold.kind === 'missed'
    ? html`<span class="hold missed" title="prompt hold ended ${time(new Date(hold.deadline).toISOString())}">hold missed</span>`
    : html`<span class="hold" title="prompt hold ends ${time(new Date(hold.deadline).toISOString())}">${duration(hold.remainingMs)} left</span>`
}

// ---------------------------------------------------------------- overview
function Overview ({ params }) {
  const [data, setData] = useState(null)
  const [error, setError] = useState(null)
  const query = params.toString()
  const load = () => getJson(`/console/api/overview?${query}`).then(d => { setData(d); setError(null) }, e => setError(e.message))
  useEffect(() => { setData(null); load() }, [query])
  useChanges({ accepts: (type, d) => type === 'task' && (data === null || d.campaign === data.campaign), run: load }, [query, data?.campaign])
  if (error !== null) return html`<p class="error">${error}</p>`
  if (data === null) return html`<p class="muted">Loading…</p>`
  const set = changes => { location.hash = hrefOf('/overview', { ...Object.fromEntries(params), before: undefined, ...changes }) }
  const onSubmit = e => {
    e.preventDefault()
    const f = new FormData(e.target)
    set(Object.fromEntries([...f.entries()]))
  }
  const st = data.summary?.states ?? {}
  const atRisk = data.rows.filter(r => r.hold !== undefined).length
  const now = Date.parse(data.now)
  return html`
    <h1>Processing overview <span class="muted">· campaign ${data.campaign}</span></h1>
    <div class="counts">
      <div class="count"><b>${data.totalRuns}</b><span>runs</span></div>
      <div class="count"><b>${data.summary?.total ?? 0}</b><span>tasks</span></div>
      ${states.filter(s => (st[s] ?? 0) > 0).map(s => html`<div class="count ${s}"><b>${st[s]}</b><span>${s}</span></div>`)}
      <div class="count warn"><b>${atRisk}</b><span>hold near or missed (this page)</span></div>
    </div>
    <form class="filters" onSubmit=${onSubmit}>
      <label>campaign<select name="campaign" value=${data.campaign}>${data.campaigns.map(c => html`<option value=${c}>${c}</option>`)}</select></label>
      <label>subsystem<select name="subsystem" value=${params.get('subsystem') ?? ''}><option value="">all</option>${data.subsystems.map(s => html`<option value=${s}>${s}</option>`)}</select></label>
      <label>task<input name="task" value=${params.get('task') ?? ''} placeholder="any" /></label>
      <label>state<select name="state" value=${params.get('state') ?? ''}><option value="">any</option>${states.map(s => html`<option value=${s}>${s}</option>`)}</select></label>
      <label>from run<input name="fromRun" value=${params.get('fromRun') ?? ''} size="8" /></label>
      <label>to run<input name="toRun" value=${params.get('toRun') ?? ''} size="8" /></label>
      <button type="submit">Apply</button>
      <a href=${hrefOf('/overview', { campaign: data.campaign })}>reset</a>
    </form>
    ${data.rows.length === 0
      ? html`<p class="muted">No runs match.</p>`
      : html`
      <table class="matrix">
        <thead><tr><th>run</th><th>fill</th><th>era</th><th>ended</th><th>prompt hold</th>${data.tasks.map(t => html`<th class="task" title="${t.subsystem} / ${t.workflow} / ${t.task}"><small>${t.subsystem} · ${t.workflow}</small>${t.task}</th>`)}</tr></thead>
        <tbody>${data.rows.map(r => html`
          <tr data-run=${r.run}>
            <td><a href=${hrefOf(`/runs/${r.run}`)}><b>${r.run}</b></a></td>
            <td>${r.fill || ''}</td><td>${r.era}</td><td class="muted">${r.endedAt === undefined ? '' : `${duration(now - Date.parse(r.endedAt))} ago`}</td>
            <td><${Hold} hold=${r.hold} /></td>
            ${data.tasks.map(t => {
              const c = r.cells.find(x => x.task === t.task)
              if (c === undefined) return html`<td class="cell"></td>`
              const title = [c.task, c.state, c.blockKind === 'run' ? '' : `block ${c.blockId}`, c.attempt > 1 ? `attempt ${c.attempt}` : '', c.reason, c.pendingGates.length > 0 ? `waits: ${c.pendingGates.join(', ')}` : ''].filter(x => x !== '').join(' · ')
              // a waiting task whose upstream failed, was cancelled or skipped will not start by itself: shown as blocked
              const shown = c.state === 'waiting' && c.pendingGates.some(g => g.startsWith('blocked:')) ? 'blocked' : c.state
              return html`<td class="cell"><a class="state ${shown}" title=${title} href=${hrefOf(`/runs/${r.run}`, { task: c.key })}>${shown}</a></td>`
            })}
          </tr>`)}
        </tbody>
      </table>`}
    <div class="pager">
      ${params.get('before') !== null ? html`<a href=${hrefOf('/overview', { ...Object.fromEntries(params), before: undefined })}>⇤ newest runs</a>` : null}
      ${data.next !== null ? html`<a href=${hrefOf('/overview', { ...Object.fromEntries(params), before: data.next })}>older runs →</a>` : null}
      <span class="muted">hold = run end + ${data.holdHours} h, marked for prompt-synchronised tasks not yet done</span>
    </div>`
}

// ---------------------------------------------------------------- run page
function LogView ({ taskKey, jobId, attempt }) {
  const [text, setText] = useState('')
  const [status, setStatus] = useState('following…')
  const pre = useRef(null)
  useEffect(() => {
    const abort = new AbortController()
    const url = `/console/api/jobs/${encodeURIComponent(jobId)}/log?task=${encodeURIComponent(taskKey)}&try=${attempt}&tail=500&follow=1`
    ;(async () => {
      const res = await fetch(url, { signal: abort.signal })
      if (!res.ok) { setStatus(`log unavailable: ${(await res.json()).message}`); return }
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        setText(t => t + value)
      }
      setStatus('end of log (job finished)')
    })().catch(e => { if (!abort.signal.aborted) setStatus(`log stopped: ${e.message}`) })
    return () => abort.abort()
  }, [jobId, attempt])
  useEffect(() => { if (pre.current !== null) pre.current.scrollTop = pre.current.scrollHeight }, [text])
  return html`<div><pre class="log" ref=${pre} data-job=${jobId}>${text}</pre><div class="muted log-status">${status}</div></div>`
}

function Jobs ({ taskKey, records }) {
  const [open, setOpen] = useState(null)
  if (records.length === 0) return html`<p class="muted">No jobs yet.</p>`
  return html`
    <table class="wide jobs">
      <thead><tr><th>job</th><th>try</th><th>phase</th><th>backend</th><th>backend id</th><th>executor</th><th>duration</th><th>exit</th><th>reason</th><th>log</th></tr></thead>
      <tbody>${records.map(j => {
        const s = j.status ?? {}
        const id = `${j.jobId}#${j.try}`
        return html`
          <tr>
            <td class="mono">${j.jobId}</td><td>${j.try}</td><td><${State} s=${s.phase ?? 'queued'} /></td>
            <td>${s.backend ?? j.request?.backend ?? ''}</td><td class="mono">${s.backendId ?? ''}</td><td>${s.executor ?? ''}</td>
            <td>${s.durationMs > 0 ? duration(s.durationMs) : '—'}</td><td>${s.exitCode ?? '—'}</td><td class="reason">${s.reason ?? ''}</td>
            <td>${s.logUrl ? html`<button class="log-button" onClick=${() => setOpen(open === id ? null : id)}>${open === id ? 'hide' : 'follow log'}</button>` : ''}</td>
          </tr>
          ${open === id ? html`<tr><td colspan="10"><${LogView} taskKey=${taskKey} jobId=${j.jobId} attempt=${j.try} /></td></tr>` : null}`
      })}</tbody>
    </table>`
}

function Outputs ({ taskKey, records }) {
  const outputs = records.flatMap(j => (j.status?.outputs ?? []).map(o => ({ ...o, jobId: j.jobId, try: j.try })))
  if (outputs.length === 0) return null
  const plots = outputs.filter(o => o.label === 'plot' && /\.(png|svg)$/i.test(o.path))
  const fileUrl = o => `/console/api/files?${new URLSearchParams({ task: taskKey, job: o.jobId, try: String(o.try), path: o.path })}`
  return html`
    <h3>Outputs</h3>
    <table class="wide">
      <thead><tr><th>path</th><th>label</th><th>size</th><th>sha256</th></tr></thead>
      <tbody>${outputs.map(o => html`<tr><td class="mono">${o.path}</td><td>${o.label}</td><td>${bytes(o.sizeBytes)}</td><td class="mono" title=${o.sha256}>${o.sha256.slice(0, 16)}…</td></tr>`)}</tbody>
    </table>
    ${plots.length > 0 ? html`<div class="plots">${plots.map(o => html`<figure><img alt=${o.path.split('/').pop()} src=${fileUrl(o)} /><figcaption>${o.path.split('/').pop()}</figcaption></figure>`)}</div>` : null}`
}

function History ({ taskKey, version }) {
  const [rows, setRows] = useState(null)
  useEffect(() => { getJson(`/console/api/tasks/history?key=${encodeURIComponent(taskKey)}`).then(d => setRows(d.transitions), () => setRows([])) }, [taskKey, version])
  if (rows === null) return html`<p class="muted">Loading history…</p>`
  return html`
    <table class="wide history">
      <thead><tr><th>when</th><th>from</th><th>to</th><th>attempt</th><th>who</th><th>why</th></tr></thead>
      <tbody>${rows.map(t => html`<tr><td>${time(t.at)}</td><td>${t.previousState === 'unspecified' ? '—' : html`<${State} s=${t.previousState} />`}</td><td><${State} s=${t.state} /></td><td>${t.attempt}</td><td>${t.actor || 'dispatcher'}</td><td>${t.reason}</td></tr>`)}</tbody>
    </table>`
}

function Task ({ t, highlight }) {
  const ref = useRef(null)
  useEffect(() => { if (highlight && ref.current !== null) ref.current.scrollIntoView({ block: 'start' }) }, [highlight])
  const uploads = t.conditions?.outcomes ?? []
  return html`
    <div class="card task ${highlight ? 'highlight' : ''}" ref=${ref} data-task=${t.key}>
      <h2 style="margin-top:0"><${State} s=${t.state} /> ${t.subsystem} · ${t.workflow} · ${t.task} <span class="muted">· block ${t.blockId} · attempt ${t.attempt}</span></h2>
      ${t.reason !== '' ? html`<p class=${t.state === 'failed' ? 'reason' : ''}>${t.reason}</p>` : null}
      ${t.pendingGates.length > 0 ? html`<p>${t.pendingGates.some(g => g.startsWith('blocked:')) ? 'Blocked by: ' : 'Waiting for: '}${t.pendingGates.join(', ')}</p>` : null}
      <h3>History</h3><${History} taskKey=${t.key} version=${t.version} />
      <h3>Jobs</h3><${Jobs} taskKey=${t.key} records=${t.jobRecords} />
      <${Outputs} taskKey=${t.key} records=${t.jobRecords} />
      ${uploads.length > 0
        ? html`<h3>Conditions</h3><table class="wide"><thead><tr><th>tag</th><th>since</th><th>outcome</th><th>reason</th><th>at</th></tr></thead>
          <tbody>${uploads.map(o => html`<tr><td><a href=${hrefOf('/conditions', { tag: o.tag })}>${o.tag}</a></td><td>${o.since}${o.requestedSince && o.requestedSince !== o.since ? html` <span class="moved">(asked ${o.requestedSince})</span>` : ''}</td><td><${State} s=${o.outcome} /></td><td class="reason">${o.reason}</td><td>${time(o.at)}</td></tr>`)}</tbody></table>`
        : null}
    </div>`
}

function RunPage ({ run, params }) {
  const [data, setData] = useState(null)
  const [error, setError] = useState(null)
  const load = () => getJson(`/api/v1/runs/${run}`).then(d => { setData(d); setError(null) }, e => setError(e.message))
  useEffect(() => { setData(null); load() }, [run])
  useChanges({ accepts: (type, d) => type === 'task' ? d.runs.includes(Number(run)) : true, run: load }, [run])
  if (error !== null) return html`<p class="error">${error}</p>`
  if (data === null) return html`<p class="muted">Loading run ${run}…</p>`
  const r = data.record ?? {}
  const field = (name, value) => html`<div><span>${name}</span>${value === undefined || value === '' ? '—' : value}</div>`
  return html`
    <h1>Run ${run}</h1>
    <div class="card grid run-meta">
      ${field('fill', r.fill)}${field('era', r.era)}${field('class', r.runClass)}
      ${field('global', r.global === undefined ? undefined : (r.global ? 'yes' : 'no'))}
      ${field('B field', r.bFieldT === undefined ? undefined : `${r.bFieldT.toFixed(2)} T`)}
      ${field('stable beam', r.stableBeam === undefined ? undefined : (r.stableBeam ? 'yes' : 'no'))}
      ${field('delivered', r.deliveredLumiPb === undefined ? undefined : `${r.deliveredLumiPb.toFixed(3)} /pb`)}
      ${field('recorded', r.recordedLumiPb === undefined ? undefined : `${r.recordedLumiPb.toFixed(3)} /pb`)}
      ${field('lumisections', r.lastLumisection || undefined)}${field('start', time(r.startTime))}${field('end', time(r.endTime))}
      ${field('duration', r.durationS ? duration(r.durationS * 1000) : undefined)}
      ${field('Tier-0 streams done', (r.streamsDone ?? []).join(', '))}
    </div>
    <h2>Blocks</h2>
    <table><thead><tr><th>campaign</th><th>block</th><th>kind</th><th>runs</th></tr></thead>
      <tbody>${data.blocks.map(b => html`<tr><td>${b.campaign}</td><td class="mono">${b.blockId}</td><td>${b.blockKind}</td><td>${b.runs.length > 8 ? `${b.runs[0]} … ${b.runs.at(-1)} (${b.runs.length})` : b.runs.join(', ')}</td></tr>`)}</tbody></table>
    <h2>Tasks</h2>
    ${data.tasks.map(t => html`<${Task} key=${t.key} t=${t} highlight=${params.get('task') === t.key} />`)}`
}

// ---------------------------------------------------------------- conditions
const shownIovs = 50

function IovChart ({ timeline }) {
  const canvas = useRef(null)
  useEffect(() => {
    if (canvas.current === null || timeline.iovs.length === 0) return
    const iovs = timeline.iovs.slice(-shownIovs)
    const last = iovs.at(-1)
    const openEnd = Math.max(last.since + 1, timeline.fcsr ?? 0, ...last.inputRuns) + Math.max(50, Math.round((last.since - iovs[0].since) * 0.05))
    const labels = iovs.map(i => `since ${i.since}`)
    const chart = new window.Chart(canvas.current, {
      type: 'bar',
      data: {
        labels,
        datasets: [
          { label: 'IOV (since → next since)', data: iovs.map(i => [i.since, i.until ?? openEnd]), backgroundColor: iovs.map(i => i.moved ? '#f59e0b' : '#3b82f6'), borderSkipped: false, barPercentage: 0.7 },
          { type: 'scatter', label: 'requested since (moved by FCSR)', data: iovs.filter(i => i.moved).map(i => ({ x: i.requestedSince, y: `since ${i.since}` })), backgroundColor: '#b91c1c', pointStyle: 'crossRot', pointRadius: 8, borderColor: '#b91c1c', borderWidth: 2 },
          { type: 'scatter', label: 'input runs', data: iovs.flatMap(i => i.inputRuns.map(run => ({ x: run, y: `since ${i.since}` }))), backgroundColor: '#111827', pointRadius: 3 }
        ]
      },
      options: {
        indexAxis: 'y',
        animation: false,
        maintainAspectRatio: false,
        scales: {
          x: { type: 'linear', beginAtZero: false, min: Math.min(iovs[0].since, ...iovs.map(i => i.requestedSince ?? i.since)) - 5, max: openEnd, title: { display: true, text: 'run' }, ticks: { callback: v => String(v) } },
          y: { type: 'category', labels }
        },
        plugins: { legend: { position: 'bottom' }, tooltip: { callbacks: { label: c => c.datasetIndex === 0 ? `runs ${iovs[c.dataIndex].since} – ${iovs[c.dataIndex].until ?? 'open'}` : `run ${c.raw.x}` } } }
      }
    })
    return () => chart.destroy()
  }, [timeline])
  const n = Math.min(shownIovs, timeline.iovs.length)
  return html`
    <div class="card chart" style=${`height: ${Math.min(900, 90 + 16 * n)}px`}><canvas ref=${canvas} id="iov-chart"></canvas></div>
    ${timeline.iovs.length > shownIovs ? html`<p class="muted">The chart shows the newest ${shownIovs} of ${timeline.iovs.length} IOVs; the table lists all.</p>` : null}`
}

function Conditions ({ params }) {
  const [tags, setTags] = useState(null)
  const [timeline, setTimeline] = useState(null)
  const [error, setError] = useState(null)
  const tag = params.get('tag') ?? tags?.[0]?.tag
  const loadTags = () => getJson('/console/api/tags').then(d => setTags(d.tags), e => setError(e.message))
  const loadTag = () => { if (tag !== undefined) getJson(`/console/api/tags/${encodeURIComponent(tag)}`).then(setTimeline, e => setError(e.message)) }
  useEffect(() => { loadTags() }, [])
  useEffect(() => { setTimeline(null); loadTag() }, [tag])
  useChanges({ accepts: type => type === 'condition', run: () => { loadTags(); loadTag() } }, [tag])
  if (error !== null) return html`<p class="error">${error}</p>`
  if (tags === null) return html`<p class="muted">Loading…</p>`
  if (tags.length === 0) return html`<h1>Conditions</h1><p class="muted">No uploads yet.</p>`
  return html`
    <h1>Conditions</h1>
    <table><thead><tr><th>tag</th><th>IOVs</th><th>FCSR moves</th><th>rejected</th><th>failed</th></tr></thead>
      <tbody>${tags.map(t => html`<tr><td><a href=${hrefOf('/conditions', { tag: t.tag })}>${t.tag === tag ? html`<b>${t.tag}</b>` : t.tag}</a></td><td>${t.iovs}</td><td>${t.moved}</td><td class=${t.rejected > 0 ? 'reason' : ''}>${t.rejected}</td><td>${t.failed}</td></tr>`)}</tbody></table>
    ${timeline === null
      ? html`<p class="muted">Loading ${tag}…</p>`
      : html`
      <h2>${timeline.tag} <span class="muted">· ${timeline.iovs.length} IOVs${timeline.fcsr !== null ? ` · FCSR ${timeline.fcsr}` : ''}</span></h2>
      <${IovChart} timeline=${timeline} />
      <table class="wide iovs"><thead><tr><th>since</th><th>until</th><th>requested since</th><th>from runs</th><th>uploaded</th><th>payload</th></tr></thead>
        <tbody>${[...timeline.iovs].reverse().map(i => html`<tr>
          <td><b>${i.since}</b></td><td>${i.until ?? 'open'}</td>
          <td>${i.moved ? html`<span class="moved">${i.requestedSince} → ${i.since} (FCSR)</span>` : html`<span class="muted">${i.requestedSince ?? '—'}</span>`}</td>
          <td>${i.inputRuns.map((r, n) => html`${n > 0 ? ', ' : ''}<a href=${hrefOf(`/runs/${r}`)}>${r}</a>`)}</td>
          <td>${time(i.at)}</td><td class="mono" title=${i.payloadHash}>${i.payloadHash.slice(0, 12)}…</td></tr>`)}</tbody></table>
      <h2>Rejected uploads</h2>
      ${timeline.rejected.length === 0
        ? html`<p class="muted">None.</p>`
        : html`<table class="wide rejected"><thead><tr><th>when</th><th>since</th><th>runs</th><th>request</th><th>reason</th></tr></thead>
          <tbody>${timeline.rejected.map(u => html`<tr><td>${time(u.at)}</td><td>${u.requestedSince ?? u.since}</td><td>${u.inputRuns.map((r, n) => html`${n > 0 ? ', ' : ''}<a href=${hrefOf(`/runs/${r}`)}>${r}</a>`)}</td><td class="mono">${u.requestId}</td><td class="reason">${u.reason}</td></tr>`)}</tbody></table>`}`}`
}

// ---------------------------------------------------------------- health
// A dead letter's redrive: shown only when the health API says this caller may (a control token of the
// message's subsystem); the reason is required, the outcome is shown in the row.
function Redrive ({ d, onDone }) {
  const [reason, setReason] = useState('')
  const [result, setResult] = useState(null)
  const [busy, setBusy] = useState(false)
  if (result !== null && result.ok) return html`<span role="status" class="ok">${result.text}</span>`
  if (d.redriven !== null) return html`<span class="muted">redriven by ${d.redriven.principal} ${time(d.redriven.at)}</span>`
  if (!d.mayRedrive) return null
  const send = async (e) => {
    e.preventDefault()
    setBusy(true)
    try {
      const [partition, offset] = d.id.split('/')
      const res = await fetch(`/console/api/dlq/${encodeURIComponent(partition)}/${encodeURIComponent(offset)}/redrive`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason }) })
      const body = await res.json()
      setResult(res.ok ? { ok: true, text: `redriven to ${body.topic}[${body.partition}]@${body.offset}` } : { ok: false, text: body.message ?? `${res.status}` })
      if (res.ok) onDone()
    } catch (err) {
      setResult({ ok: false, text: err.message })
    } finally {
      setBusy(false)
    }
  }
  return html`<form class="redrive" onSubmit=${send}>
    <input aria-label="reason" placeholder="why the cause is fixed" required value=${reason} onInput=${e => setReason(e.target.value)} />
    <button type="submit" disabled=${busy}>redrive</button>
    ${result !== null && html`<span role="status" class="error">${result.text}</span>`}
  </form>`
}

function Health () {
  const [data, setData] = useState(null)
  const [error, setError] = useState(null)
  const reload = useRef(() => {})
  useEffect(() => {
    const load = () => getJson('/console/api/health').then(d => { setData(d); setError(null) }, e => setError(e.message))
    load()
    const timer = setInterval(load, 5000)
    reload.current = load
    return () => clearInterval(timer)
  }, [])
  if (error !== null) return html`<p class="error">${error}</p>`
  if (data === null) return html`<p class="muted">Loading…</p>`
  const lagRows = Array.isArray(data.lag) ? data.lag : []
  const lagByGroup = new Map()
  for (const r of lagRows) lagByGroup.set(r.group, (lagByGroup.get(r.group) ?? 0) + r.lag)
  return html`
    <h1>Health <span class="muted">· ${time(data.now)}</span></h1>
    <h2>Executors and agents</h2>
    ${data.executors.length === 0
      ? html`<p class="muted">No executor has reported a job status yet.</p>`
      : html`<table class="executors"><thead><tr><th>executor / agent</th><th>backend</th><th>last status</th><th>age</th><th>running jobs</th></tr></thead>
        <tbody>${data.executors.map(e => html`<tr><td>${e.executor}</td><td>${e.backend}</td><td>${time(e.lastSeenAt)}</td><td class=${e.runningJobs > 0 && e.ageSeconds > 120 ? 'old' : ''}>${duration(e.ageSeconds * 1000)}</td><td>${e.runningJobs}</td></tr>`)}</tbody></table>`}
    <h2>Consumer lag</h2>
    ${Array.isArray(data.lag)
      ? html`<table class="lag"><thead><tr><th>group</th><th>topic</th><th>lag (messages)</th></tr></thead>
        <tbody>${lagRows.map(r => html`<tr><td>${r.group}</td><td class="mono">${r.topic}</td><td>${r.lag}</td></tr>`)}</tbody>
        <tfoot>${[...lagByGroup].map(([g, n]) => html`<tr><td><b>${g}</b></td><td class="muted">all topics</td><td><b>${n}</b></td></tr>`)}</tfoot></table>`
      : html`<p class="error">lag unavailable: ${data.lag.error}</p>`}
    <h2>Dead letters</h2>
    <p>${data.deadLetterCounts.map(c => html`<span class="hold missed" style="margin-right:8px">${c.topic}: ${c.count}</span>`)}</p>
    ${data.deadLetters.length === 0
      ? html`<p class="muted">None.</p>`
      : html`<table class="wide dead-letters"><thead><tr><th>when</th><th>topic</th><th>partition/offset</th><th>service</th><th>code</th><th>reason</th><th>redrive</th></tr></thead>
        <tbody>${data.deadLetters.map(d => html`<tr key=${d.id ?? d.eventId}><td>${time(d.at)}</td><td class="mono">${d.topic}</td><td>${d.partition}/${d.offset}</td><td>${d.service}</td><td class="mono">${d.code}</td><td class="reason">${d.reason}</td><td><${Redrive} d=${d} onDone=${() => reload.current()} /></td></tr>`)}</tbody></table>`}
    <h2>Deadline risks</h2>
    ${data.deadlineRisks.length === 0
      ? html`<p class="muted">No prompt-synchronised task near its hold.</p>`
      : html`<table class="wide risks"><thead><tr><th>time left</th><th>task</th><th>runs</th><th>state</th><th>tag</th></tr></thead>
        <tbody>${data.deadlineRisks.map(r => html`<tr><td><${Hold} hold=${{ kind: r.kind, deadline: Date.parse(r.deadline), remainingMs: r.remainingMs }} /></td><td><a href=${hrefOf(`/runs/${r.runs[0]}`, { task: r.key })}>${r.subsystem} · ${r.task}</a> <span class="muted">${r.campaign}</span></td><td>${r.runs.join(', ')}</td><td><${State} s=${r.state} /></td><td>${r.tag}</td></tr>`)}</tbody></table>`}`
}

// ---------------------------------------------------------------- shell
function App () {
  const { path, params } = useHash()
  const live = useLive()
  const run = /^\/runs\/(\d+)$/.exec(path)?.[1]
  const section = run !== undefined ? 'overview' : path.slice(1)
  const view = run !== undefined
    ? html`<${RunPage} run=${run} params=${params} />`
    : path === '/conditions'
      ? html`<${Conditions} params=${params} />`
      : path === '/health'
        ? html`<${Health} />`
        : html`<${Overview} params=${params} />`
  return html`
    <header class="top">
      <span class="brand">autocal console</span>
      <nav>${[['overview', 'Overview'], ['conditions', 'Conditions'], ['health', 'Health']].map(([p, name]) => html`<a class=${section === p ? 'active' : ''} href="#/${p}">${name}</a>`)}</nav>
      <span class="live ${live}">${live === 'on' ? 'live' : 'reconnecting'}</span>
    </header>
    <main>${view}</main>`
}

startChangeFeed()
const root = document.getElementById('app')
root.textContent = ''
render(html`<${App} />`, root)
