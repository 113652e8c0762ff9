#!/usr/bin/env node
// PouchDB's own replicator as the yardstick for `bench/drain --protocol couchdb`: makes a
// local in-memory PouchDB of N documents (ids "bench/<n>", bodies of about 100 bytes),
// replicates it one-shot into a fresh database on a PouchDB Server, and prints one JSON
// line: {"docs":N,"seconds":S,"docs_per_s":R,...}. Only the replication is timed.
//
// It needs no install of its own: it loads the PouchDB 7 modules that pouchdb-server
// 4.2.0 brought into .cache/ (scripts/lib.sh: ensure_pouchdb_server), the same
// pieces the `pouchdb` package bundles (core, memory and http adapters, replication).
//
//   node bench/pouch_replicate.js --target http://127.0.0.1:5984 [--docs 100000]
//        [--db NAME] [--modules .cache/pouchdb-server/node_modules] [--batch-size 100]
'use strict';

const path = require('path');
const {createRequire} = require('module');

function usage(message) {
  if (message) process.stderr.write(`pouch_replicate: ${message}\n`);
  process.stderr.write(
      'usage: node bench/pouch_replicate.js --target URL [--docs N] [--db NAME]\n' +
      '       [--modules DIR] [--batch-size N] [--user NAME:PASSWORD]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const args = {
    docs: 100000,
    target: '',
    db: '',
    modules: path.join(__dirname, '..', '.cache', 'pouchdb-server', 'node_modules'),
    batchSize: 100,
    user: '',
  };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case '--docs': args.docs = Number(value); i++; break;
      case '--target': args.target = value; i++; break;
      case '--db': args.db = value; i++; break;
      case '--modules': args.modules = path.resolve(value); i++; break;
      case '--batch-size': args.batchSize = Number(value); i++; break;
      case '--user': args.user = value; i++; break;
      case '--help': usage(); break;
      default: usage(`unknown argument ${argv[i]}`);
    }
  }
  if (!args.target) usage('--target URL is required (the PouchDB Server, e.g. http://127.0.0.1:5984)');
  if (!Number.isInteger(args.docs) || args.docs < 1) usage('--docs must be a positive integer');
  if (!Number.isInteger(args.batchSize) || args.batchSize < 1) usage('--batch-size must be positive');
  if (!args.db) args.db = `bench-replicate-${Date.now()}`;
  return args;
}

function loadPouch(modules) {
  const from = createRequire(path.join(modules, 'noop.js'));
  let PouchDB;
  try {
    PouchDB = from('pouchdb-core');
    PouchDB.plugin(from('pouchdb-adapter-memory'));
    PouchDB.plugin(from('pouchdb-adapter-http'));
    PouchDB.plugin(from('pouchdb-replication'));
  } catch (err) {
    process.stderr.write(
        `pouch_replicate: cannot load PouchDB from ${modules} (${err.message}); install ` +
        'pouchdb-server first: bash -c \'source scripts/lib.sh && ensure_pouchdb_server\'\n');
    process.exit(1);
  }
  return PouchDB;
}

// About 100 bytes of JSON per document, deterministic.
function body(n) {
  return {
    _id: `bench/${n}`,
    title: `document number ${n}`,
    done: n % 2 === 0,
    count: n,
    note: 'x'.repeat(32),
  };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const PouchDB = loadPouch(args.modules);
  const fetchOptions = {};
  if (args.user) {
    const [username, ...rest] = args.user.split(':');
    fetchOptions.auth = {username, password: rest.join(':')};
  }

  const source = new PouchDB(`source-${process.pid}`, {adapter: 'memory'});
  const fill = 1000;
  for (let start = 0; start < args.docs; start += fill) {
    const docs = [];
    for (let n = start; n < Math.min(args.docs, start + fill); n++) docs.push(body(n));
    await source.bulkDocs(docs);
  }

  const targetUrl = `${args.target.replace(/\/+$/, '')}/${encodeURIComponent(args.db)}`;
  const target = new PouchDB(targetUrl, fetchOptions);
  await target.info();  // creates the database (PUT) before the clock starts

  const rssBefore = process.memoryUsage().rss;
  const started = process.hrtime.bigint();
  const result = await source.replicate.to(target, {batch_size: args.batchSize});
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;

  const info = await target.info();
  const line = {
    tool: 'pouchdb-replicate',
    docs: args.docs,
    seconds: Number(seconds.toFixed(3)),
    docs_per_s: Math.round(args.docs / seconds),
    docs_written: result.docs_written,
    target_doc_count: info.doc_count,
    batch_size: args.batchSize,
    target: targetUrl,
    client_rss_mb_before: Math.round(rssBefore / 1048576),
    client_rss_mb_after: Math.round(process.memoryUsage().rss / 1048576),
  };
  process.stdout.write(JSON.stringify(line) + '\n');
  if (!result.ok || result.docs_written !== args.docs || info.doc_count !== args.docs) {
    process.stderr.write(`pouch_replicate: replication incomplete: ${JSON.stringify(result)}\n`);
    process.exit(1);
  }
}

main().catch((err) => {
  process.stderr.write(`pouch_replicate: ${err.stack || err}\n`);
  process.exit(1);
});
