// The lab's notification receivers, run inside the admin namespace: an SMTP server and an HTTP
// SMS endpoint that append what they get, one JSON object a line, to files in the state dir.
// Usage: node receivers.mjs SMTP_PORT SMS_PORT MAIL_FILE SMS_FILE
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { SMTPServer } from 'smtp-server';

const [smtpPort, smsPort, mailFile, smsFile] = process.argv.slice(2);
if (!smtpPort || !smsPort || !mailFile || !smsFile) {
  process.stderr.write('usage: node receivers.mjs SMTP_PORT SMS_PORT MAIL_FILE SMS_FILE\n');
  process.exit(2);
}

const smtp = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  size: 1024 * 1024,
  onData(stream, session, cb) {
    let raw = '';
    stream.on('data', (c) => { if (raw.length < 256 * 1024) raw += c.toString(); });
    stream.on('end', () => {
      const header = (name) => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(raw)?.[1]?.trim() ?? '';
      const body = raw.split(/\r?\n\r?\n/).slice(1).join('\n\n').slice(0, 2000);
      appendFileSync(mailFile, `${JSON.stringify({ at: Date.now(), from: session.envelope.mailFrom?.address ?? '', to: session.envelope.rcptTo.map((r) => r.address), subject: header('Subject'), body })}\n`);
      cb();
    });
  },
});
// A client that resets its connection (a notifier killed at its timeout) is the client's
// matter: without this handler smtp-server's error event ended the receiver, and every mail
// after it was lost to the run (seen in bench:failover).
smtp.on('error', (e) => process.stderr.write(`receivers: smtp: ${e.code ?? ''} ${e.message}\n`));
smtp.listen(Number(smtpPort), '127.0.0.1');

createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { if (body.length < 64 * 1024) body += c.toString(); });
  req.on('end', () => {
    let parsed = null;
    try { parsed = JSON.parse(body); } catch { /* kept raw */ }
    appendFileSync(smsFile, `${JSON.stringify({ at: Date.now(), to: parsed?.to ?? '', text: parsed?.text ?? body })}\n`);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
}).listen(Number(smsPort), '127.0.0.1');

const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
