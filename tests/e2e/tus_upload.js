'use strict'
/*
 * One run of the real tus-js-client (pinned in package.json) under plain Node, uploading a
 * file to the Flask server's /api/v1/uploads. Driven by tests/media/test_tus_clients.py:
 * one process is one app session, so "the app was killed and restarted" is two runs
 * sharing a URL storage file.
 *
 * Inputs (environment):
 *   TUS_ENDPOINT       e.g. http://127.0.0.1:5000/api/v1/uploads
 *   TUS_TOKEN          the access token (Authorization: Bearer …)
 *   TUS_FILE           the file to upload (read as a stream from its path)
 *   TUS_METADATA       JSON object: photo_id, sha256, content_type (+ filename, filetype)
 *   TUS_CHUNK_SIZE     bytes per PATCH (default: the whole file)
 *   TUS_URL_STORAGE    path of a tus.FileUrlStorage JSON file: the upload URL survives the
 *                      process, as AsyncStorage/SQLite would keep it in the app
 *                      (default: none — Node's no-op storage)
 *   TUS_RESUME         "1": findPreviousUploads() and resumeFromPreviousUpload(the newest)
 *   TUS_ABORT_AFTER    abort() once the server has accepted at least this many bytes, then
 *                      exit (an app killed mid-upload)
 *   TUS_DURING_CREATION "1": uploadDataDuringCreation (creation-with-upload)
 *   TUS_OVERRIDE_PATCH "1": overridePatchMethod (POST + X-HTTP-Method-Override: PATCH)
 *   TUS_RETRY_DELAYS   JSON array, e.g. [0, 200] (default [0, 200, 500]); "null": no retry
 *   TUS_TIMEOUT_MS     bound of the whole run (default 30000)
 *
 * stdout: exactly one JSON line
 *   {ok, aborted, url, offset, size, previousUploads, progress: {chunks, accepted},
 *    requests: [{method, override, offset, status, responseOffset}], error}
 * ok means onSuccess was called (or, with TUS_ABORT_AFTER, that the abort happened).
 */

const fs = require('node:fs')
const util = require('node:util')
const tus = require('tus-js-client')

// Keep stdout for the one JSON line.
for (const name of ['log', 'info', 'warn', 'error', 'debug']) {
  console[name] = (...args) => process.stderr.write(`[tus ${name}] ${util.format(...args)}\n`)
}

const env = process.env
const TIMEOUT_MS = Number(env.TUS_TIMEOUT_MS || 30000)
const FILE = env.TUS_FILE
const SIZE = fs.statSync(FILE).size
const ABORT_AFTER = env.TUS_ABORT_AFTER ? Number(env.TUS_ABORT_AFTER) : null
const RETRY_DELAYS = env.TUS_RETRY_DELAYS ? JSON.parse(env.TUS_RETRY_DELAYS) : [0, 200, 500]

const result = {
  ok: false,
  aborted: false,
  url: null,
  offset: null,
  size: SIZE,
  previousUploads: null,
  progress: { chunks: 0, accepted: 0 },
  requests: [],
  error: null,
}

function finish(code) {
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(code))
}

const timer = setTimeout(() => {
  result.error = `timed out after ${TIMEOUT_MS} ms`
  finish(2)
}, TIMEOUT_MS)

const options = {
  endpoint: env.TUS_ENDPOINT,
  headers: { Authorization: `Bearer ${env.TUS_TOKEN}` },
  metadata: JSON.parse(env.TUS_METADATA),
  chunkSize: env.TUS_CHUNK_SIZE ? Number(env.TUS_CHUNK_SIZE) : Number.POSITIVE_INFINITY,
  retryDelays: RETRY_DELAYS,
  uploadDataDuringCreation: env.TUS_DURING_CREATION === '1',
  overridePatchMethod: env.TUS_OVERRIDE_PATCH === '1',
  onBeforeRequest(req) {
    req._record = {
      method: req.getMethod(),
      override: req.getHeader('X-HTTP-Method-Override') || null,
      offset: req.getHeader('Upload-Offset') != null ? Number(req.getHeader('Upload-Offset')) : null,
    }
  },
  onAfterResponse(req, res) {
    const offset = res.getHeader('Upload-Offset')
    result.requests.push({
      ...req._record,
      status: res.getStatus(),
      responseOffset: offset != null ? Number(offset) : null,
    })
  },
  onChunkComplete(_chunkSize, accepted) {
    result.progress.chunks += 1
    result.progress.accepted = accepted
    if (ABORT_AFTER != null && accepted >= ABORT_AFTER && accepted < SIZE) {
      result.aborted = true
      result.url = upload.url
      result.offset = accepted
      upload.abort().then(
        () => {
          result.ok = true
          clearTimeout(timer)
          finish(0)
        },
        (err) => {
          result.error = `abort failed: ${err}`
          finish(1)
        },
      )
    }
  },
  onSuccess() {
    result.ok = true
    result.url = upload.url
    result.offset = SIZE
    clearTimeout(timer)
    finish(0)
  },
  onError(err) {
    result.error = String(err && err.message ? err.message : err)
    result.url = upload.url
    clearTimeout(timer)
    finish(1)
  },
}
if (env.TUS_URL_STORAGE) {
  options.urlStorage = new tus.FileUrlStorage(env.TUS_URL_STORAGE)
}

const upload = new tus.Upload(fs.createReadStream(FILE), options)

async function main() {
  if (env.TUS_RESUME === '1') {
    const previous = await upload.findPreviousUploads()
    result.previousUploads = previous.length
    if (previous.length) {
      previous.sort((a, b) => new Date(b.creationTime) - new Date(a.creationTime))
      upload.resumeFromPreviousUpload(previous[0])
    }
  }
  upload.start()
}

main().catch((err) => {
  result.error = String(err && err.stack ? err.stack : err)
  finish(1)
})
