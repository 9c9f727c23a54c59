'use strict'
/*
 * A phone made of the real WatermelonDB client (@nozbe/watermelondb, LokiJS adapter,
 * in memory under plain Node), syncing against the Flask server's /api/v1/sync.
 * Driven by tests/sync/test_watermelondb_client.py.
 *
 * Inputs (environment):
 *   WM_BASE_URL   e.g. http://127.0.0.1:5000          (not needed for the "schema" scenario)
 *   WM_TOKEN      the access token (Authorization: Bearer …)
 *   WM_DEVICE_ID  the device id that token was issued to (X-Device-Id on push)
 *   WM_IDS        comma-separated check-in ids ("plain" scenario only)
 *   WM_TIMEOUT_MS every wait's bound: HTTP requests, a paused push, an idle stdin (default 15000)
 * Scenario (argv[2] or WM_SCENARIO):
 *   schema  print the client's schema as JSON, no server involved
 *   plain   create WM_IDS offline, synchronize() once, print the outcome
 *   phone   one phone over several steps: one command per stdin line, one JSON line back
 *
 * Phone commands (ids are check-in ids; VALUES is a JSON object of raw columns):
 *   create ID [VALUES]     a new check-in (plausible defaults for what VALUES leaves out)
 *   update ID VALUES       change columns of a check-in
 *   delete ID              markAsDeleted (a syncable delete)
 *   sync [retry] [pause] [lose-response]
 *        retry          on failure, call synchronize() once more (what the app does)
 *        pause          in the first attempt's pushChanges, before the POST: print
 *                       {"event":"before-push",…} and wait for a "continue" line
 *        lose-response  the first attempt's POST reaches the server, then the
 *                       connection "drops": pushChanges throws after the response came
 *   count | dump | unsynced | exit
 *
 * stdout carries only these JSON lines; WatermelonDB's own console output goes to stderr.
 * Every exit is explicit: Loki's autosave timer would otherwise keep Node alive.
 */

const util = require('node:util')
const readline = require('node:readline')

// Keep stdout for our protocol: the library logs through console.*
for (const name of ['log', 'info', 'warn', 'error', 'debug']) {
  console[name] = (...args) => process.stderr.write(`[wm ${name}] ${util.format(...args)}\n`)
}

const { Database, Model, Q, appSchema, tableSchema } = require('@nozbe/watermelondb')
const LokiJSAdapter = require('@nozbe/watermelondb/adapters/lokijs').default
const { synchronize, hasUnsyncedChanges } = require('@nozbe/watermelondb/sync')

const SCHEMA_VERSION = 4
const BOOT_ID = 'wm-e2e-boot-1'
const TIMEOUT_MS = Number(process.env.WM_TIMEOUT_MS || 15000)
const BASE_URL = (process.env.WM_BASE_URL || '').replace(/\/+$/, '')
const TOKEN = process.env.WM_TOKEN || ''
const DEVICE_ID = process.env.WM_DEVICE_ID || ''

function emit(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`)
}

function finish(code, obj) {
  if (obj) emit(obj)
  // Flush stdout before exiting (it is a pipe, so writes may be asynchronous).
  process.stdout.write('', () => process.exit(code))
}

// --- schema: the server's sync tables, schema version 4 (sync/tables.py) -------------------

const col = (name, type, isOptional = true) => ({ name, type, isOptional })

const schema = appSchema({
  version: SCHEMA_VERSION,
  tables: [
    tableSchema({
      name: 'check_ins',
      columns: [
        col('kind', 'string', false),
        col('captured_at', 'number', false),
        col('latitude', 'number', false),
        col('longitude', 'number', false),
        col('accuracy_m', 'number'),
        col('coord_system', 'string'),
        col('mock_location', 'boolean'),
        col('photo_id', 'string'),
        col('photo_sha256', 'string'),
        col('elapsed_ms', 'number'),
        col('boot_id', 'string'),
        col('note', 'string'),
        // server-owned: pulled, pushed back as they are, ignored by the server
        col('received_at', 'number'),
        col('photo_state', 'string'),
        col('location', 'string'),
        col('distance_m', 'number'),
        col('estimated_at', 'number'),
        col('host_school_id', 'string'),
        col('status', 'string'),
        col('flags', 'string'),
      ],
    }),
    // read-only: the phone never writes these
    tableSchema({
      name: 'secondments',
      columns: [
        col('teacher_id', 'string'),
        col('home_school_id', 'string'),
        col('host_school_id', 'string'),
        col('kind', 'string'),
        col('role', 'string'),
        col('start_on', 'string'),
        col('end_on', 'string'),
        col('status', 'string'),
      ],
    }),
    tableSchema({
      name: 'schools',
      columns: [
        col('code', 'string'),
        col('name', 'string'),
        col('kind', 'string'),
        col('locality', 'string'),
        col('latitude', 'number'),
        col('longitude', 'number'),
        col('geofence_radius_m', 'number'),
        col('fence_points', 'string'),
      ],
    }),
    // version 2: the teacher's requests (pushed) and judged days (read-only)
    tableSchema({
      name: 'leave_requests',
      columns: [
        col('leave_type', 'string', false),
        col('start_on', 'string', false),
        col('start_half', 'string'),
        col('end_on', 'string', false),
        col('end_half', 'string'),
        col('reason', 'string', false),
        col('attachment_ids', 'string'),
        col('status', 'string'),
        col('teacher_id', 'string'),
        col('host_school_id', 'string'),
        col('decision_note', 'string'),
        col('decided_at', 'number'),
        col('cancelled_at', 'number'),
        col('received_at', 'number'),
        col('flags', 'string'),
      ],
    }),
    tableSchema({
      name: 'punch_corrections',
      columns: [
        col('day', 'string', false),
        col('kind', 'string', false),
        col('time', 'string', false),
        col('reason', 'string', false),
        col('attachment_ids', 'string'),
        col('status', 'string'),
        col('teacher_id', 'string'),
        col('host_school_id', 'string'),
        col('decision_note', 'string'),
        col('decided_at', 'number'),
        col('cancelled_at', 'number'),
        col('received_at', 'number'),
        col('flags', 'string'),
        col('punched_at', 'number'),
      ],
    }),
    tableSchema({
      name: 'attendance_days',
      columns: [
        col('date', 'string'),
        col('status', 'string'),
        col('host_school_id', 'string'),
        col('day_kind', 'string'),
        col('day_name', 'string'),
        col('leave_type', 'string'),
        col('leave_halves', 'number'),
        col('duty_halves', 'number'),
        col('in_at', 'number'),
        col('out_at', 'number'),
        col('late_minutes', 'number'),
        col('early_minutes', 'number'),
        col('open_flags', 'number'),
        col('explanation', 'string'),
        col('version', 'number'),
      ],
    }),
    // version 3: an inspector's spot checks (read-only) and visits (pushed)
    tableSchema({
      name: 'spot_checks',
      columns: [
        col('plan_id', 'string'),
        col('school_id', 'string'),
        col('school_name', 'string'),
        col('school_latitude', 'number'),
        col('school_longitude', 'number'),
        col('geofence_radius_m', 'number'),
        col('window_start', 'string'),
        col('window_end', 'string'),
        col('status', 'string'),
        col('teachers', 'string'),
        col('inspectors', 'string'),
      ],
    }),
    tableSchema({
      name: 'spot_check_visits',
      columns: [
        col('spot_check_id', 'string', false),
        col('arrived_at', 'number', false),
        col('elapsed_ms', 'number'),
        col('boot_id', 'string'),
        col('latitude', 'number', false),
        col('longitude', 'number', false),
        col('accuracy_m', 'number'),
        col('coord_system', 'string'),
        col('mock_location', 'boolean'),
        col('photo_ids', 'string'),
        col('signature_photo_id', 'string'),
        col('findings', 'string'),
        col('note', 'string'),
        col('received_at', 'number'),
        col('estimated_at', 'number'),
        col('location', 'string'),
        col('distance_m', 'number'),
        col('photo_state', 'string'),
        col('status', 'string'),
        col('flags', 'string'),
        col('discrepancies', 'string'),
      ],
    }),
    // version 4: the communities' joint timetables (read-only) and class report forms (pushed)
    tableSchema({
      name: 'timetable_entries',
      columns: [
        col('community_id', 'string'),
        col('school_year', 'number'),
        col('term', 'number'),
        col('subject', 'string'),
        col('lead_school_id', 'string'),
        col('lead_teacher_id', 'string'),
        col('lead_class_name', 'string'),
        col('receivers', 'string'),
        col('weekday', 'number'),
        col('period', 'string'),
        col('dates', 'string'),
        col('note', 'string'),
      ],
    }),
    tableSchema({
      name: 'class_sessions',
      columns: [
        col('community_id', 'string', false),
        col('timetable_entry_id', 'string'),
        col('day', 'string', false),
        col('subject', 'string', false),
        col('topic', 'string'),
        col('lead_school_id', 'string', false),
        col('lead_teacher_id', 'string'),
        col('lead_class_name', 'string'),
        col('lead_student_count', 'number'),
        col('duration_minutes', 'number', false),
        col('connection_quality', 'string', false),
        col('problems', 'string'),
        col('discussion', 'string'),
        col('participants', 'string'),
        col('lead_photo_ids', 'string'),
        col('submitted_by_id', 'string'),
        col('received_at', 'number'),
        col('complete', 'boolean'),
        col('missing', 'string'),
        col('photo_states', 'string'),
        col('review_status', 'string'),
        col('review_reason', 'string'),
        col('revision', 'number'),
        col('status', 'string'),
        col('flags', 'string'),
      ],
    }),
    // version 4 too: the communities' evidence (pushed by school admins)
    tableSchema({
      name: 'evidence_items',
      columns: [
        col('community_id', 'string', false),
        col('kind', 'string', false),
        col('day', 'string', false),
        col('title', 'string', false),
        col('description', 'string'),
        col('subject', 'string'),
        col('url', 'string'),
        col('school_ids', 'string'),
        col('people', 'string'),
        col('photo_ids', 'string'),
        col('details', 'string'),
        col('submitted_by_id', 'string'),
        col('submitted_at', 'number'),
        col('review_status', 'string'),
        col('review_reason', 'string'),
        col('revision', 'number'),
        col('status', 'string'),
        col('flags', 'string'),
      ],
    }),
  ],
})

const TABLES = Object.keys(schema.tables)

function schemaAsJson() {
  const tables = {}
  for (const name of TABLES) {
    tables[name] = schema.tables[name].columnArray.map((c) => ({
      name: c.name,
      type: c.type,
      optional: Boolean(c.isOptional),
    }))
  }
  return { version: schema.version, tables }
}

// No decorators needed: raw columns are read from _raw and written with _setRaw.
class CheckIn extends Model {
  static table = 'check_ins'
}
class Secondment extends Model {
  static table = 'secondments'
}
class School extends Model {
  static table = 'schools'
}
class LeaveRequest extends Model {
  static table = 'leave_requests'
}
class PunchCorrection extends Model {
  static table = 'punch_corrections'
}
class AttendanceDay extends Model {
  static table = 'attendance_days'
}
class SpotCheck extends Model {
  static table = 'spot_checks'
}
class SpotCheckVisit extends Model {
  static table = 'spot_check_visits'
}
class TimetableEntry extends Model {
  static table = 'timetable_entries'
}
class ClassSession extends Model {
  static table = 'class_sessions'
}
class EvidenceItem extends Model {
  static table = 'evidence_items'
}

function openDatabase() {
  const adapter = new LokiJSAdapter({
    schema,
    useWebWorker: false,
    // Without IndexedDB (plain Node) this falls back to an in-memory Loki.
    useIncrementalIndexedDB: true,
    dbName: `wm-e2e-${process.pid}`,
  })
  return new Database({
    adapter,
    modelClasses: [
      CheckIn,
      Secondment,
      School,
      LeaveRequest,
      PunchCorrection,
      AttendanceDay,
      SpotCheck,
      SpotCheckVisit,
      TimetableEntry,
      ClassSession,
      EvidenceItem,
    ],
  })
}

// --- HTTP: pullChanges and pushChanges as an app writes them --------------------------------

class HttpError extends Error {
  constructor(status, body) {
    super(`HTTP ${status}: ${JSON.stringify(body).slice(0, 500)}`)
    this.status = status
    this.body = body
  }
}

async function request(method, path, headers, body) {
  const response = await fetch(`${BASE_URL}${path}`, {
    method,
    headers: { Accept: 'application/json', ...headers },
    body,
    signal: AbortSignal.timeout(TIMEOUT_MS),
  })
  const text = await response.text()
  let parsed
  try {
    parsed = text ? JSON.parse(text) : null
  } catch (_) {
    parsed = text
  }
  // Any non-2xx must make synchronize() fail, as it does in the app.
  if (!response.ok) throw new HttpError(response.status, parsed)
  return { status: response.status, body: parsed }
}

function idsOf(changes) {
  const out = {}
  for (const [table, ops] of Object.entries(changes || {})) {
    const entry = {}
    for (const op of ['created', 'updated']) {
      if (ops[op] && ops[op].length) entry[op] = ops[op].map((r) => r.id).sort()
    }
    if (ops.deleted && ops.deleted.length) entry.deleted = [...ops.deleted].sort()
    if (Object.keys(entry).length) out[table] = entry
  }
  return out
}

function describe(error) {
  if (!error || !error.message) return String(error)
  return error.cause ? `${error.message} (${error.cause.message || error.cause})` : error.message
}

function waitForLine(lines, timeoutMs) {
  return Promise.race([
    lines.next(),
    new Promise((_, reject) =>
      setTimeout(() => reject(new Error(`no line on stdin within ${timeoutMs} ms`)), timeoutMs),
    ),
  ])
}

// One synchronize() call. hooks: {pause, loseResponse} apply to this attempt only.
async function syncOnce(database, hooks, lines) {
  const attempt = { ok: false, pulled: null, pushed: null }
  const log = {}
  try {
    await synchronize({
      database,
      log,
      sendCreatedAsUpdated: true,
      pullChanges: async ({ lastPulledAt, schemaVersion, migration }) => {
        const query =
          `last_pulled_at=${lastPulledAt == null ? 'null' : lastPulledAt}` +
          `&schema_version=${schemaVersion}` +
          `&migration=${encodeURIComponent(JSON.stringify(migration == null ? null : migration))}`
        const { body } = await request('GET', `/api/v1/sync?${query}`, {
          Authorization: `Bearer ${TOKEN}`,
        })
        attempt.pulled = idsOf(body.changes)
        attempt.timestamp = body.timestamp
        if (body.experimentalStrategy) attempt.strategy = body.experimentalStrategy
        return body
      },
      pushChanges: async ({ changes, lastPulledAt }) => {
        attempt.pushed = idsOf(changes)
        if (hooks.pause) {
          emit({ event: 'before-push', lastPulledAt, pushing: attempt.pushed })
          const next = await waitForLine(lines, TIMEOUT_MS)
          if (next.done || next.value.trim() !== 'continue') {
            throw new Error(`expected "continue" while paused, got ${JSON.stringify(next.value)}`)
          }
        }
        const { status, body } = await request(
          'POST',
          `/api/v1/sync?last_pulled_at=${lastPulledAt}&schema_version=${SCHEMA_VERSION}`,
          {
            Authorization: `Bearer ${TOKEN}`,
            'Content-Type': 'application/json',
            'X-Device-Id': DEVICE_ID,
            'X-Device-Time': String(Date.now()),
            'X-Device-Elapsed': String(Math.round(process.uptime() * 1000)),
            'X-Device-Boot': BOOT_ID,
          },
          JSON.stringify(changes),
        )
        attempt.pushStatus = status
        attempt.pushResponse = body
        if (hooks.loseResponse) {
          attempt.responseLost = true
          throw new Error('connection dropped before the response reached the phone')
        }
        return body && body.experimentalRejectedIds
          ? { experimentalRejectedIds: body.experimentalRejectedIds }
          : {}
      },
    })
    attempt.ok = true
  } catch (error) {
    attempt.error = describe(error)
    if (error instanceof HttpError) {
      attempt.errorStatus = error.status
      attempt.errorBody = error.body
    }
  }
  attempt.remoteChangeCount = log.remoteChangeCount
  attempt.localChangeCount = log.localChangeCount
  attempt.resolvedConflicts = (log.resolvedConflicts || []).map((c) => ({
    id: c.resolved.id,
    resolved: c.resolved,
  }))
  if (log.rejectedIds) attempt.rejectedIds = log.rejectedIds
  return attempt
}

// --- local state ----------------------------------------------------------------------------

function defaultCheckIn() {
  return {
    kind: 'in',
    captured_at: Date.now(),
    latitude: 35.96,
    longitude: 105.73,
    accuracy_m: 12.5,
    coord_system: 'wgs84',
    mock_location: false,
    photo_id: null,
    photo_sha256: null,
    elapsed_ms: Math.round(process.uptime() * 1000),
    boot_id: BOOT_ID,
    note: '',
  }
}

async function findCheckIn(database, id) {
  return database.get('check_ins').find(id)
}

async function createCheckIn(database, id, values) {
  const merged = { ...defaultCheckIn(), ...(values || {}) }
  await database.write(() =>
    database.get('check_ins').create((record) => {
      record._raw.id = id // the client's id is the server's id
      for (const [name, value] of Object.entries(merged)) record._setRaw(name, value)
    }),
  )
}

async function updateCheckIn(database, id, values) {
  const record = await findCheckIn(database, id)
  await database.write(() =>
    record.update((r) => {
      for (const [name, value] of Object.entries(values)) r._setRaw(name, value)
    }),
  )
}

async function deleteCheckIn(database, id) {
  const record = await findCheckIn(database, id)
  await database.write(() => record.markAsDeleted())
}

async function counts(database) {
  const out = {}
  for (const table of TABLES) out[table] = await database.get(table).query().fetchCount()
  return out
}

async function dump(database) {
  const tables = {}
  const pendingDeletes = {}
  for (const table of TABLES) {
    const records = await database.get(table).query(Q.sortBy('id', Q.asc)).fetch()
    tables[table] = records.map((r) => ({ ...r._raw }))
    pendingDeletes[table] = await database.adapter.getDeletedRecords(table)
  }
  return { tables, pendingDeletes, unsynced: await hasUnsyncedChanges({ database }) }
}

// --- scenarios ------------------------------------------------------------------------------

function requireServerInputs() {
  const missing = ['WM_BASE_URL', 'WM_TOKEN', 'WM_DEVICE_ID'].filter((k) => !process.env[k])
  if (missing.length) throw new Error(`missing environment: ${missing.join(', ')}`)
}

async function plain() {
  requireServerInputs()
  const ids = (process.env.WM_IDS || '').split(',').filter(Boolean)
  if (!ids.length) throw new Error('WM_IDS must name the check-ins to create')
  const database = openDatabase()
  for (const id of ids) await createCheckIn(database, id)
  const before = await hasUnsyncedChanges({ database })
  const attempt = await syncOnce(database, {}, null)
  return { ok: attempt.ok, created: ids, unsyncedBefore: before, sync: attempt, ...(await dump(database)) }
}

async function handle(database, line, lines) {
  const match = /^(\S+)\s*(\S*)\s*(.*)$/.exec(line.trim())
  const [, cmd, arg, rest] = match
  const json = (text) => (text ? JSON.parse(text) : {})
  switch (cmd) {
    case 'create':
      await createCheckIn(database, arg, json(rest))
      return { ok: true, cmd, id: arg }
    case 'update':
      await updateCheckIn(database, arg, json(rest))
      return { ok: true, cmd, id: arg }
    case 'delete':
      await deleteCheckIn(database, arg)
      return { ok: true, cmd, id: arg }
    case 'sync': {
      const flags = new Set([arg, ...rest.split(/\s+/)].filter(Boolean))
      const unknown = [...flags].filter((f) => !['retry', 'pause', 'lose-response'].includes(f))
      if (unknown.length) throw new Error(`unknown sync options: ${unknown.join(' ')}`)
      const hooks = { pause: flags.has('pause'), loseResponse: flags.has('lose-response') }
      const attempts = [await syncOnce(database, hooks, lines)]
      if (!attempts[0].ok && flags.has('retry')) attempts.push(await syncOnce(database, {}, lines))
      const last = attempts[attempts.length - 1]
      return { ok: last.ok, cmd, attempts, unsynced: await hasUnsyncedChanges({ database }) }
    }
    case 'count':
      return { ok: true, cmd, counts: await counts(database) }
    case 'dump':
      return { ok: true, cmd, ...(await dump(database)) }
    case 'unsynced':
      return { ok: true, cmd, unsynced: await hasUnsyncedChanges({ database }) }
    default:
      throw new Error(`unknown command ${JSON.stringify(cmd)}`)
  }
}

async function phone() {
  requireServerInputs()
  const database = openDatabase()
  const rl = readline.createInterface({ input: process.stdin, terminal: false })
  const lines = rl[Symbol.asyncIterator]()
  emit({ ok: true, event: 'ready', schemaVersion: SCHEMA_VERSION })
  for (;;) {
    const next = await waitForLine(lines, TIMEOUT_MS)
    if (next.done) return finish(2, { ok: false, error: 'stdin closed without "exit"' })
    const line = next.value.trim()
    if (!line) continue
    if (line === 'exit') return finish(0, { ok: true, cmd: 'exit' })
    try {
      emit(await handle(database, line, lines))
    } catch (error) {
      emit({ ok: false, cmd: line.split(/\s+/)[0], error: String(error && error.stack ? error.stack : error) })
    }
  }
}

async function main() {
  const scenario = process.argv[2] || process.env.WM_SCENARIO || ''
  if (scenario === 'schema') return finish(0, { ok: true, schema: schemaAsJson() })
  if (scenario === 'plain') {
    const result = await plain()
    return finish(result.ok ? 0 : 1, result)
  }
  if (scenario === 'phone') return phone()
  throw new Error(`unknown scenario ${JSON.stringify(scenario)} (schema | plain | phone)`)
}

main().catch((error) =>
  finish(1, { ok: false, error: String(error && error.stack ? error.stack : error) }),
)
