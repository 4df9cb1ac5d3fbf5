import { test } from 'node:test'
import assert from 'node:assert/strict'
import { routeProblems, routesFor, routeTakes, type Route } from '../../src/domain/routing.ts'
import type { Notification } from '../../src/domain/notifications.ts'

const n = (kind: Notification['kind'], subsystem?: string): Notification => ({ kind, identity: `${kind}/x`, text: 'x', at: 0, ...(subsystem === undefined ? {} : { subsystem }) })
const ecalFailures: Route = { name: 'ecal-failures', audiences: ['failures'], subsystems: ['ECAL'], channel: 'ecal-calib' }
const experts: Route = { name: 'experts', audiences: ['experts'], channel: 'autocal-experts' }
const uploads: Route = { name: 'uploads', kinds: ['upload-rejected'], channel: 'alca-db' }
const fallback: Route = { name: 'default', channel: 'autocal' }

test('a route takes notifications by kind, audience and subsystem; a subsystem route never takes a system-wide one', () => {
  const table: Array<[Route, Notification, boolean]> = [
    [ecalFailures, n('task-failed', 'ECAL'), true],
    [ecalFailures, n('task-failed', 'HCAL'), false],
    [ecalFailures, n('deadline-missed', 'ECAL'), true],
    [ecalFailures, n('executor-lost', 'ECAL'), false],
    [ecalFailures, n('consumer-stalled'), false],
    [experts, n('consumer-stalled'), true],
    [experts, n('dlq-entry'), true],
    [experts, n('task-failed', 'ECAL'), false],
    [uploads, n('upload-rejected', 'HCAL'), true],
    [uploads, n('task-failed', 'HCAL'), false],
    [{ name: 'all' }, n('dlq-flood'), true]
  ]
  for (const [route, note, expected] of table) assert.equal(routeTakes(route, note), expected, `${route.name} ${note.kind} ${note.subsystem ?? '-'}`)
})

test('a notification goes to every route that takes it, else to the fallback route', () => {
  const routes = [ecalFailures, experts, uploads]
  assert.deepEqual(routesFor(n('upload-rejected', 'ECAL'), routes, fallback).map(r => r.name), ['ecal-failures', 'uploads'])
  assert.deepEqual(routesFor(n('consumer-stalled'), routes, fallback).map(r => r.name), ['experts'])
  assert.deepEqual(routesFor(n('task-failed', 'HCAL'), routes, fallback).map(r => r.name), ['default'])
  assert.deepEqual(routesFor(n('task-failed', 'HCAL'), [], fallback).map(r => r.name), ['default'])
})

test("a notification of a campaign with its own channel goes to that channel only: the route of that name, else the default webhook's channel", () => {
  const routes: Route[] = [ecalFailures, experts, uploads, { name: 'ecal-dev', webhook: 'http://127.0.0.1:1/hooks/dev', campaignChannel: true }]
  const table: Array<[Notification, Array<Pick<Route, 'name' | 'channel' | 'webhook'>>]> = [
    [{ ...n('task-failed', 'ECAL'), campaignChannel: 'ecal-dev' }, [{ name: 'ecal-dev', webhook: 'http://127.0.0.1:1/hooks/dev' }]],
    [{ ...n('upload-rejected', 'ECAL'), campaignChannel: 'ecal-dev' }, [{ name: 'ecal-dev', webhook: 'http://127.0.0.1:1/hooks/dev' }]],
    [{ ...n('task-failed', 'ECAL'), campaignChannel: 'pps-shadow' }, [{ name: 'pps-shadow', channel: 'pps-shadow' }]],
    [{ ...n('task-failed', 'ECAL'), campaignChannel: '' }, [{ name: 'ecal-failures', channel: 'ecal-calib' }]]
  ]
  for (const [note, expected] of table) {
    assert.deepEqual(routesFor(note, routes, fallback).map(r => ({ name: r.name, ...(r.channel === undefined ? {} : { channel: r.channel }), ...(r.webhook === undefined ? {} : { webhook: r.webhook }) })), expected, note.campaignChannel)
  }
})

test('bad routes are refused with the route and the fault named', () => {
  assert.deepEqual(routeProblems([ecalFailures, experts, uploads]), [])
  assert.deepEqual(routeProblems([
    { name: 'Experts' },
    { name: 'default' },
    { name: 'a', kinds: ['task-exploded' as Notification['kind']] },
    { name: 'a', subsystems: [] }
  ]), [
    "route 0 (Experts): name must be lower-case letters, digits and '-'",
    "route 1 (default): 'default' is the name of the fallback route",
    "route 2 (a): unknown kind 'task-exploded' (known: task-failed, gate-timeout, deadline-near, deadline-missed, upload-rejected, executor-lost, consumer-stalled, lag-growing, dlq-entry, dlq-flood)",
    'route 3 (a): name used twice',
    'route 3 (a): an empty list selects nothing; leave the key out to select all'
  ])
})
