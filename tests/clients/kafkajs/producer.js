#!/usr/bin/env node
// A standard Kafka producer that shares no code with the pipeline: KafkaJS, a pure-JavaScript
// implementation of the Kafka protocol (no librdkafka, no kafka-python/aiokafka).
//
// Usage: node producer.js --bootstrap HOST:PORT --topic T --partitions N --codec CODEC
//                         --input EVENTS.jsonl [--chunk 250]
//
// Reads a JSON-lines file and sends it in chunks of --chunk lines, one message per chunk and
// one record batch per message (each send is awaited before the next). Chunk i goes to
// partition i % N; even chunks are sent as a JSON array, odd ones as JSON lines; the input
// lines are copied byte for byte, never re-serialised. Every message has a key (the first
// event's parcel_id) and two headers (producer, codec). Prints one JSON object to stdout:
// {"codec", "messages", "events"}; exits 1 with the reason on stderr on any failure.
//
// Codecs: none and gzip are built into KafkaJS; snappy is kafkajs-snappy (snappyjs, pure
// JavaScript); lz4 is lz4js (pure JavaScript, the LZ4 frame format Kafka uses) and zstd is
// zstd-codec (the reference zstd C library compiled to WebAssembly), each behind KafkaJS's
// codec interface below. The codec packages KafkaJS documents for those two, kafkajs-lz4 and
// @kafkajs/zstd, need native builds (node-gyp), and @kafkajs/zstd's cppzst 2.0.6 does not
// compile against Node 20's headers.
'use strict'

const fs = require('fs')
const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = require('kafkajs')
const SnappyCodec = require('kafkajs-snappy')
const lz4 = require('lz4js')
const { ZstdCodec } = require('zstd-codec')

function parseArgs (argv) {
  const args = { chunk: '250' }
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) {
      throw new Error(`expected --name value pairs, got ${argv[i]}`)
    }
    args[argv[i].slice(2)] = argv[i + 1]
  }
  for (const name of ['bootstrap', 'topic', 'partitions', 'codec', 'input']) {
    if (!args[name]) throw new Error(`--${name} is required`)
  }
  return args
}

const Lz4Codec = () => ({
  async compress (encoder) { return Buffer.from(lz4.compress(encoder.buffer)) },
  async decompress (buffer) { return Buffer.from(lz4.decompress(buffer)) }
})

// zstd-codec starts its WebAssembly module asynchronously; the codec waits for it once.
const zstdReady = new Promise(resolve => ZstdCodec.run(zstd => resolve(new zstd.Simple())))
const ZstdKafkaCodec = () => ({
  async compress (encoder) { return Buffer.from((await zstdReady).compress(encoder.buffer, 3)) },
  async decompress (buffer) { return Buffer.from((await zstdReady).decompress(buffer)) }
})

CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec
CompressionCodecs[CompressionTypes.LZ4] = Lz4Codec
CompressionCodecs[CompressionTypes.ZSTD] = ZstdKafkaCodec

const CODECS = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD
}

// KafkaJS logs to stdout by default; stdout carries only the summary, so logs go to stderr.
const stderrLogger = () => ({ namespace, level, log }) =>
  process.stderr.write(`kafkajs ${namespace} ${level}: ${log.message}\n`)

async function main () {
  const args = parseArgs(process.argv.slice(2))
  const compression = CODECS[args.codec]
  if (compression === undefined) throw new Error(`unknown codec ${args.codec}`)
  const partitions = Number(args.partitions)
  const chunkSize = Number(args.chunk)
  const lines = fs.readFileSync(args.input, 'utf8').split('\n').filter(l => l.trim() !== '')
  const kafka = new Kafka({
    clientId: 'courierwatch-kafkajs-test',
    brokers: [args.bootstrap],
    logLevel: logLevel.WARN,
    logCreator: stderrLogger,
    retry: { retries: 5 }
  })
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: false })
  await producer.connect()
  let messages = 0
  try {
    for (let start = 0, i = 0; start < lines.length; start += chunkSize, i++) {
      const chunk = lines.slice(start, start + chunkSize)
      const value = i % 2 === 0 ? `[${chunk.join(',')}]` : chunk.join('\n')
      await producer.send({
        topic: args.topic,
        acks: -1,
        compression,
        messages: [{
          key: String(JSON.parse(chunk[0]).parcel_id),
          value,
          partition: i % partitions,
          headers: { producer: 'kafkajs', codec: args.codec }
        }]
      })
      messages++
    }
  } finally {
    await producer.disconnect()
  }
  process.stdout.write(JSON.stringify({ codec: args.codec, messages, events: lines.length }) + '\n')
}

main().catch(err => {
  process.stderr.write(`producer.js: ${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})
