/**
 * A small DNS server for the examples and their tests, on 127.0.0.1: it answers A
 * queries for any name with 127.0.0.1 (or with the address given for that name), and
 * MX queries with two mail servers under the name asked for. Names under `.invalid`
 * get NXDOMAIN, and names under `.slow` are never answered, to show timeouts.
 *
 * It is a real DNS server (the dns2 package, over UDP), so the examples exercise
 * Node's own resolver end to end, offline.
 */
import dns2 from 'dns2';

const { Packet } = dns2;

export interface LocalDns {
  /** `127.0.0.1:<port>`, for `Resolver#setServers`. */
  readonly address: string;
  close(): Promise<void>;
}

/** Starts the server on a free port; `addresses` overrides the A answer for some names. */
export async function startLocalDns(addresses: Readonly<Record<string, string>> = {}): Promise<LocalDns> {
  const server = dns2.createServer({
    udp: true,
    handle(request, send) {
      const response = Packet.createResponseFromRequest(request);
      const [question] = request.questions;
      if (question === undefined) return;
      const name = question.name.toLowerCase();
      if (name.endsWith('.slow')) return;
      if (name.endsWith('.invalid')) {
        response.header.rcode = NXDOMAIN;
        void send(response);
        return;
      }
      if (question.type === Packet.TYPE.MX) {
        response.answers.push(
          Packet.createResourceFromQuestion(question, { ttl: 60, priority: 20, exchange: `backup-mail.${name}` }),
          Packet.createResourceFromQuestion(question, { ttl: 60, priority: 10, exchange: `mail.${name}` }),
        );
      } else if (question.type === Packet.TYPE.A) {
        response.answers.push(
          Packet.createResourceFromQuestion(question, { ttl: 60, address: addresses[name] ?? '127.0.0.1' }),
        );
      }
      void send(response);
    },
  });
  const listening = await server.listen({ udp: { port: 0, address: '127.0.0.1' } });
  if (listening.udp === undefined) throw new Error('the local DNS server did not start on UDP');
  return {
    address: `127.0.0.1:${listening.udp.port}`,
    close: () => server.close(),
  };
}

/** The DNS response code for a name that does not exist. */
const NXDOMAIN = 3;
