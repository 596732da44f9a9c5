/**
 * The identity of a notification's state change, for the outbox once-rule (ha/schema.ts):
 * the same problem notified by two instances (one that was cut off and one that took its
 * shard over) gets the same id, so the second row is refused by the unique index.
 *
 * A PROBLEM or RECOVERY is identified by when the problem became HARD (problemSince, from
 * the stored status both instances share), its number and the state; other notifications
 * (acknowledgements, downtimes, custom messages) by their time and text, which only one
 * instance (the shard owner, or the one that took the API call) ever produces.
 */
import type { NotificationIntent } from '../state/types.ts';

export function changeIdOf(n: NotificationIntent): string {
  if ((n.type === 'PROBLEM' || n.type === 'RECOVERY') && n.problemSince !== undefined) {
    return `${n.type}:${n.problemSince}:${n.type === 'RECOVERY' ? (n.problemNumber ?? 0) : n.number}:${n.state}`;
  }
  return `${n.type}:${n.at}:${n.number}:${n.state}:${n.key === '' ? `${n.serviceName ?? ''}:${n.output.slice(0, 200)}` : ''}`;
}
