/** TypeBox schemas of the API: they validate requests, type the handlers and feed OpenAPI. */
import { Type, type Static } from 'typebox';

// Nullable and enum types as JSON-schema type arrays / enums, not anyOf: fast-json-stringify
// has to try each anyOf branch per value, which made a 10,000-service answer take 0.5 s.
const NullableString = () => Type.Unsafe<string | null>({ type: ['string', 'null'] });
const NullableNumber = () => Type.Unsafe<number | null>({ type: ['number', 'null'] });
const Enum = <T extends string>(values: readonly T[], description?: string) => Type.Unsafe<T>({ type: 'string', enum: [...values], ...(description ? { description } : {}) });

export const ErrorBody = Type.Object({
  error: Type.String({ description: 'Code from the error table (BAD_REQUEST, UNAUTHORIZED, NOT_FOUND, CONFLICT, INVENTORY_INVALID, UNAVAILABLE, INTERNAL)' }),
  message: Type.String(),
  details: Type.Optional(Type.Array(Type.String())),
});

const ackProperties = {
  sticky: Type.Boolean(),
  notify: Type.Boolean(),
  author: Type.String(),
  comment: Type.String(),
  at: Type.Number(),
  state: Type.Integer(),
};
export const Ack = Type.Object(ackProperties);
const NullableAck = () =>
  Type.Unsafe<{ sticky: boolean; notify: boolean; author: string; comment: string; at: number; state: number } | null>({
    type: ['object', 'null'],
    properties: ackProperties,
    required: Object.keys(ackProperties),
  });

export const StatusView = Type.Object({
  key: Type.String({ description: 'host or host/service' }),
  kind: Enum(['host', 'service'] as const),
  cluster: Type.Boolean({ description: 'a cluster rule (virtual service)' }),
  active: Type.Boolean({ description: 'actively checked (can be re-checked); false for cluster rules and hosts without a check' }),
  hostCheck: Type.Union([Enum(['configured', 'default', 'none'] as const), Type.Null()], { description: 'hosts: where the host check comes from (none: shown UP, not checked); null for services' }),
  hostName: Type.String(),
  serviceName: NullableString(),
  checked: Type.Boolean(),
  state: Type.Integer(),
  stateName: Type.String({ description: 'OK/WARNING/CRITICAL/UNKNOWN, UP/DOWN/UNREACHABLE, or PENDING' }),
  stateType: Enum(['SOFT', 'HARD'] as const),
  attempt: Type.Integer(),
  maxAttempts: Type.Integer(),
  lastCheck: NullableNumber(),
  lastStateChange: Type.Number(),
  durationMs: Type.Number({ description: 'time in the current state' }),
  nextCheck: NullableNumber(),
  output: Type.String(),
  longOutput: Type.String(),
  perfdata: Type.String(),
  perfReadable: Type.Array(Type.String(), { description: 'each perfdata value with its unit, readable (7.00 GiB, 3 s); malformed items left out' }),
  acknowledged: Type.Boolean(),
  ack: NullableAck(),
  downtimeDepth: Type.Integer(),
  flapping: Type.Boolean(),
  percentStateChange: Type.Number(),
  stale: Type.Boolean(),
  notificationNumber: Type.Integer(),
  silencedBy: Type.Array(Type.Object({ id: Type.String(), author: Type.String(), comment: Type.String(), end: Type.Number() }), { description: 'active silences that cover this object in its current state (problem notifications held back)' }),
  inhibitedBy: NullableString(),
  suppressed: Type.Union([Type.String({ description: 'why notifications of this problem are held: host down or unreachable, or a dependency' }), Type.Null()]),
  checkSkipped: Type.Union([Type.String({ description: 'the execution dependency that stops its checks; the state is the last one' }), Type.Null()]),
});
export type StatusViewT = Static<typeof StatusView>;

export const HostView = Type.Object({
  name: Type.String(),
  address: Type.String(),
  transport: Type.String(),
  virtual: Type.Boolean(),
  services: Type.Integer(),
  status: StatusView,
});

export const Summary = Type.Object({
  hosts: Type.Record(Type.String(), Type.Integer()),
  services: Type.Record(Type.String(), Type.Integer()),
});

export const HistoryEventView = Type.Object({
  key: Type.String(),
  at: Type.Number(),
  type: Type.String(),
  state: Type.Integer(),
  stateType: Type.String(),
  attempt: Type.Integer(),
  output: Type.String(),
  detail: Type.Optional(Type.String()),
});

export const DowntimeView = Type.Object({
  id: Type.String(),
  key: Type.String(),
  fixed: Type.Boolean(),
  start: Type.Number(),
  end: Type.Number(),
  durationMs: Type.Number(),
  author: Type.String(),
  comment: Type.String(),
  startedAt: NullableNumber(),
  active: Type.Boolean(),
});

export const OutboxView = Type.Object({
  id: Type.Integer(),
  createdAt: Type.Number(),
  contact: Type.String(),
  channel: Type.String(),
  type: Type.String(),
  object: Type.String(),
  state: Type.String(),
  status: Type.String(),
  attempts: Type.Integer(),
  nextAttemptAt: Type.Number(),
  sentAt: NullableNumber(),
  lastError: NullableString(),
});

export const KeyBody = Type.Object({ key: Type.String({ minLength: 1, description: 'host or host/service' }) }, { additionalProperties: false });

export const AckBody = Type.Object(
  {
    key: Type.String({ minLength: 1 }),
    sticky: Type.Boolean({ default: false, description: 'sticky: stays until OK; normal: ends with the next state change' }),
    notify: Type.Boolean({ default: true, description: 'send an ACKNOWLEDGEMENT notification' }),
    author: Type.String({ minLength: 1, maxLength: 100 }),
    comment: Type.String({ minLength: 1, maxLength: 1000 }),
  },
  { additionalProperties: false },
);

export const DowntimeBody = Type.Object(
  {
    key: Type.String({ minLength: 1 }),
    includeServices: Type.Boolean({ default: false, description: 'for a host: also every service on it' }),
    fixed: Type.Boolean({ default: true, description: 'fixed: exactly start..end; flexible: starts with the first problem in start..end and lasts duration' }),
    start: Type.Optional(Type.Number({ description: 'epoch ms; default now' })),
    end: Type.Optional(Type.Number({ description: 'epoch ms; fixed: default start + duration' })),
    // Every time in the API is in milliseconds and says so (start, end: epoch ms; durationMs).
    durationMs: Type.Optional(Type.Number({ minimum: 1, description: 'milliseconds: fixed: default end is start + durationMs; flexible: how long it lasts once triggered' })),
    duration: Type.Optional(Type.Number({ minimum: 1, description: 'deprecated: the same in seconds, kept for older clients; use durationMs' })),
    author: Type.String({ minLength: 1, maxLength: 100 }),
    comment: Type.String({ minLength: 1, maxLength: 1000 }),
  },
  { additionalProperties: false },
);

const silenceMatcherProperties = {
  host: Type.String({ minLength: 1, maxLength: 200, description: 'glob (* and ?) on the host name' }),
  service: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'glob on the service name; leave it out to cover the host and every service on it' })),
  states: Type.Optional(Type.Array(Type.String({ maxLength: 20 }), { minItems: 1, maxItems: 7, description: 'only in these states (OK, WARNING, CRITICAL, UNKNOWN, UP, DOWN, UNREACHABLE)' })),
  rule: Type.Optional(Type.String({ minLength: 1, maxLength: 300, description: 'only this cluster rule (cluster/name) and its member services' })),
};

export const SilenceBody = Type.Object(
  {
    ...silenceMatcherProperties,
    author: Type.String({ minLength: 1, maxLength: 100 }),
    comment: Type.String({ minLength: 1, maxLength: 1000 }),
    start: Type.Optional(Type.Number({ description: 'epoch ms; default now' })),
    end: Type.Optional(Type.Number({ description: 'epoch ms; or give durationMs' })),
    durationMs: Type.Optional(Type.Number({ minimum: 1, description: 'milliseconds from start' })),
  },
  { additionalProperties: false },
);

export const SilenceView = Type.Object({
  id: Type.String(),
  matchers: Type.Object({ host: Type.String(), service: NullableString(), states: Type.Unsafe<string[] | null>({ type: ['array', 'null'], items: { type: 'string' } }), rule: NullableString() }),
  author: Type.String(),
  comment: Type.String(),
  start: Type.Number(),
  end: Type.Number(),
  createdAt: Type.Number(),
  active: Type.Boolean(),
  matches: Type.Integer({ description: 'objects it covers now, in their current state' }),
  description: Type.String(),
});
