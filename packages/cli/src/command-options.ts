import type { OptionSpecs } from './args.js';

// The options of each command, as the parser accepts them and `--help` lists them (help.ts puts
// them beside each command's text).

export const SUBMIT_OPTIONS = {
  background: {
    type: 'boolean',
    short: 'b',
    description: 'queue the job and print its handle instead of waiting for the result',
  },
  priority: { type: 'string', short: 'p', value: 'level', description: 'low, normal or high' },
  unique: {
    type: 'string',
    short: 'u',
    value: 'key',
    description: 'unique key: a job with the same function and key is joined, not duplicated',
  },
  at: {
    type: 'string',
    value: 'time',
    description: 'run no earlier than: ISO 8601, Unix seconds or +30s (background only)',
  },
  timeout: {
    type: 'string',
    short: 't',
    value: 'duration',
    description: 'give up waiting (30, 30s, 500ms, 2m); the job may still run',
  },
  quiet: { type: 'boolean', short: 'q', description: 'no progress bar' },
  'max-packet-size': {
    type: 'string',
    value: 'bytes',
    description: 'largest packet sent or accepted, e.g. 128MiB (default 64MiB)',
  },
} as const satisfies OptionSpecs;

export const WORK_OPTIONS = {
  concurrency: {
    type: 'string',
    short: 'c',
    value: 'n',
    description: 'run up to n commands at once (default 1)',
  },
  timeout: {
    type: 'string',
    short: 't',
    value: 'duration',
    description: 'kill a command that runs longer and fail its job',
  },
  'max-jobs': {
    type: 'string',
    short: 'n',
    value: 'n',
    description: 'exit after n jobs (default: run until stopped)',
  },
  grace: {
    type: 'string',
    value: 'duration',
    description: 'on SIGINT/SIGTERM, how long running commands may finish (default 30s)',
  },
  'plain-fail': {
    type: 'boolean',
    description: 'fail jobs with WORK_FAIL, without the exit status and stderr',
  },
  id: { type: 'string', value: 'name', description: "client id shown by 'gearmanode workers'" },
  'max-packet-size': {
    type: 'string',
    value: 'bytes',
    description: 'largest packet sent or accepted, e.g. 128MiB (default 64MiB)',
  },
} as const satisfies OptionSpecs;

export const TOP_OPTIONS = {
  interval: {
    type: 'string',
    short: 'i',
    value: 'duration',
    description: 'time between refreshes (default 1s)',
  },
  iterations: {
    type: 'string',
    short: 'n',
    value: 'n',
    description: 'stop after n refreshes (default: until q or Ctrl-C)',
  },
} as const satisfies OptionSpecs;

export const SERVER_OPTIONS = {
  port: {
    type: 'string',
    short: 'p',
    value: 'port',
    description: 'TCP port, 0 for any free one (default 4730)',
  },
  host: {
    type: 'string',
    value: 'address',
    description: 'address to listen on (default 127.0.0.1)',
  },
  'job-retries': {
    type: 'string',
    value: 'n',
    description: 'fail a job after its worker was lost n times (default 0: never)',
  },
  'max-queue': {
    type: 'string',
    value: 'n',
    description: 'queue limit per function and priority (default 0: unlimited)',
  },
  store: {
    type: 'string',
    value: 'sqlite:path',
    description: "keep background jobs in this SQLite file, gearmand's format (Node.js 22.13+)",
  },
  'store-table': {
    type: 'string',
    value: 'name',
    description: 'the store table (default gearman_queue, as gearmand --libsqlite3-table)',
  },
  'tls-cert': {
    type: 'string',
    value: 'file',
    description: 'serve TLS with this PEM certificate (chain); needs --tls-key',
  },
  'tls-key': {
    type: 'string',
    value: 'file',
    description: 'the PEM private key of --tls-cert',
  },
  'tls-ca': {
    type: 'string',
    value: 'file',
    description: 'require client certificates signed by these PEM CAs',
  },
  metrics: {
    type: 'string',
    value: 'host:port',
    description: 'also serve Prometheus /metrics there, e.g. 127.0.0.1:9470',
  },
} as const satisfies OptionSpecs;

export const EXPORTER_OPTIONS = {
  listen: {
    type: 'string',
    short: 'l',
    value: 'host:port',
    description: 'address of the HTTP endpoint (default 127.0.0.1:9470)',
  },
  timeout: {
    type: 'string',
    short: 't',
    value: 'duration',
    description: 'how long each server may take per scrape (default 5s)',
  },
} as const satisfies OptionSpecs;

export const DASHBOARD_OPTIONS = {
  listen: {
    type: 'string',
    short: 'l',
    value: 'host:port',
    description: 'address of the web page (default 127.0.0.1:9471)',
  },
  interval: {
    type: 'string',
    short: 'i',
    value: 'duration',
    description: 'time between refreshes (default 1s)',
  },
  timeout: {
    type: 'string',
    short: 't',
    value: 'duration',
    description: 'how long each server may take per refresh (default 5s)',
  },
} as const satisfies OptionSpecs;

export const NONE = {} as const satisfies OptionSpecs;
