/**
 * Calendar schedules through node-cron: recurring downtime windows (each firing schedules
 * a fixed downtime of the configured duration) and the daily summary.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Inventory } from '../inventory/types.ts';
import { stateLabel } from '../state/types.ts';
import type { Monitor } from './monitor.ts';

export function summaryText(monitor: Monitor): string {
  const s = monitor.summary();
  const fmt = (r: Record<string, number>) => Object.entries(r).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(', ') || 'none';
  const lines = [`Hosts: ${fmt(s.hosts)}`, `Services: ${fmt(s.services)}`, ''];
  if (s.problems.length === 0) lines.push('No problems.');
  else {
    lines.push(`${s.problems.length} problem(s):`);
    for (const p of s.problems) lines.push(`  ${p.key} ${stateLabel(p.kind, p.state)}${p.ack ? ' (acknowledged)' : ''}${p.downtimeDepth ? ' (in downtime)' : ''}: ${p.output}`);
  }
  return lines.join('\n');
}

export function startCron(monitor: Monitor, inv: Inventory, log: (msg: string) => void): () => Promise<void> {
  const tasks: ScheduledTask[] = [];
  for (const d of inv.downtimes) {
    tasks.push(cron.schedule(d.cron, () => {
      const now = Date.now();
      for (const key of d.keys) {
        // Several instances: each object's downtime is scheduled by the instance that runs it.
        if (!monitor.object(key) || !monitor.mine(key)) continue;
        monitor.scheduleDowntime({ key, includeServices: false, fixed: true, start: now, end: now + d.durationMs, durationMs: d.durationMs, author: 'hawatch (recurring)', comment: `${d.name}: ${d.comment}` });
      }
      log(`recurring downtime '${d.name}' started for ${d.keys.length} object(s)`);
    }, { name: `downtime ${d.name}` }));
  }
  const ds = inv.notifier.dailySummary;
  if (ds) {
    tasks.push(cron.schedule(ds.cron, () => {
      monitor.notifyContacts(ds.contacts, 'daily summary', summaryText(monitor));
      log('daily summary queued');
    }, { name: 'daily summary' }));
  }
  return async () => {
    for (const t of tasks) await t.destroy();
  };
}
