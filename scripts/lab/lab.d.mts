// Types of scripts/lab/lab.mjs for the TypeScript callers (test/lab, bench).
export interface Counts { mail: number; sms: number; recoveryMail: number; recoverySms: number }
export interface FaultRow { fault: string; expected: Counts; got: Counts; secondsToMail: number | null; ok: boolean; subjects: string[] }
export interface LabPaths { stateDir: string; mail: string; sms: string; inventory: string; serverLog: string; ca: string; serverUrl: string; apiToken: string }
export interface ObjectStatus { key: string; state: number; stateType: string; checked: boolean; output: string }
export interface Mail { at: number; from: string; to: string[]; subject: string; body: string }
export interface Sms { at: number; to: string; text: string }
export const PREFIX: string;
export const STATE_DIR: string;
export const ADMIN_NS: string;
export const ADMIN_IP: string;
export const SERVER_PORT: number;
export const NODES: Record<string, { role: string; ip: string; group: string }>;
export const AGENTS: Record<string, string>;
export const FAULTS: Record<string, { what: string; expect: Counts; inject(): Promise<void>; heal(): Promise<void> }>;
export const SHORT: string[];
export function ns(node: string): string;
export function paths(): LabPaths;
export function up(): Promise<LabPaths>;
export function down(): Promise<void>;
export function waitHealthy(timeoutMs?: number): Promise<void>;
export function status(): Promise<ObjectStatus[]>;
export function fault(name: string): Promise<void>;
export function heal(name: string): Promise<void>;
export function received(): { mail: Mail[]; sms: Sms[] };
export function runFault(name: string, opts?: { timeoutMs?: number; settleMs?: number; healthyTimeoutMs?: number }): Promise<FaultRow>;
export function run(names?: string[], opts?: { keep?: boolean; timeoutMs?: number; settleMs?: number; healthyTimeoutMs?: number }): Promise<{ ok: boolean; rows: FaultRow[]; table: string; seconds: number }>;
