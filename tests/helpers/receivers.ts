import { createServer, type Server } from 'node:http';
import { SMTPServer } from 'smtp-server';
import { freePort } from '../../storage/influxd.js';

/** A mail as the test's SMTP server took it: recipients, the message as sent (headers and encoded body), and its subject and text decoded. */
export interface Mail {
  to: string[];
  body: string;
  subject: string;
  text: string;
}

/** Enough MIME for nodemailer's single-part text mails: encoded-word headers, QP or base64 bodies. */
export function decodeMail(raw: string): { subject: string; text: string } {
  const split = raw.indexOf('\r\n\r\n');
  const headers = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const header = (name: string) => new RegExp(`^${name}: (.*)$`, 'mi').exec(headers)?.[1] ?? '';
  const words = (value: string) =>
    value.replace(/=\?utf-8\?([bq])\?([^?]*)\?=\s*/gi, (_m, enc: string, data: string) =>
      enc.toLowerCase() === 'b'
        ? Buffer.from(data, 'base64').toString('utf8')
        : Buffer.from(
            data.replace(/_/g, ' ').replace(/=([0-9a-f]{2})/gi, (_q, h: string) => String.fromCharCode(parseInt(h, 16))),
            'latin1',
          ).toString('utf8'),
    );
  const body = raw.slice(split + 4);
  const encoding = header('Content-Transfer-Encoding').toLowerCase();
  const text =
    encoding === 'base64'
      ? Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8')
      : encoding === 'quoted-printable'
        ? Buffer.from(
            body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_q, h: string) => String.fromCharCode(parseInt(h, 16))),
            'latin1',
          ).toString('utf8')
        : body;
  return { subject: words(header('Subject')), text: text.replace(/\r\n/g, '\n') };
}

/**
 * An SMTP server (smtp-server) on a free loopback port that keeps every mail it
 * takes in `mails`. STARTTLS is offered only when asked for (with smtp-server's built-in
 * self-signed certificate).
 */
export async function startMailServer(mails: Mail[], options: { starttls?: boolean } = {}): Promise<{ server: SMTPServer; port: number }> {
  const server = new SMTPServer({
    authOptional: true,
    ...(options.starttls ? {} : { disabledCommands: ['STARTTLS'] }),
    logger: false,
    onData(stream, session, callback) {
      let raw = '';
      stream.setEncoding('latin1');
      stream.on('data', (d: string) => (raw += d));
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), body: raw, ...decodeMail(raw) });
        callback();
      });
    },
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return { server, port };
}

/** The SMTP server and webhook receiver a notification test sends to: mails into `mails`, webhook bodies into `hooks`; `close` stops both. */
export async function startReceivers(mails: Mail[], hooks: unknown[]): Promise<{ smtpPort: number; webhookPort: number; close: () => void }> {
  const mail = await startMailServer(mails);
  const webhook = await startWebhookReceiver((hook) => hooks.push(hook));
  return {
    smtpPort: mail.port,
    webhookPort: webhook.port,
    close: () => {
      mail.server.close();
      webhook.server.close();
    },
  };
}

/** A webhook receiver on a free loopback port: each request's JSON body (and path) goes to `received`, answered 204. */
export async function startWebhookReceiver(received: (body: any, path: string) => void): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d));
    req.on('end', () => {
      received(JSON.parse(body), req.url ?? '');
      res.writeHead(204).end();
    });
  });
  const port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port)));
  return { server, port };
}
