import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { Rule } from '@evpki/policy';
import { AppError, OCSP_CLIENT_CN, RA_CLIENT_CN, methodNotAllowed } from '@evpki/service';

/**
 * Who may call each API route (all POST), by the CN of the client certificate the TLS layer
 * verified against the service CA (issue 7). The OCSP responder only gets its delegated signer
 * certificates. A route not listed here is refused: deny by default.
 */
const ROUTE_CALLERS: Readonly<Record<string, string>> = {
  '/v1/sign': RA_CLIENT_CN,
  '/v1/sign-server': RA_CLIENT_CN,
  '/v1/revoke': RA_CLIENT_CN,
  '/v1/stations/remove': RA_CLIENT_CN,
  '/v1/ocsp-signers': OCSP_CLIENT_CN,
};

/** CNs by connection: a keep-alive connection sends many requests with one certificate. */
const names = new WeakMap<TLSSocket, string>();

/** The CN of the caller's verified client certificate. */
export function serviceCaller(req: IncomingMessage): string {
  const socket = req.socket as TLSSocket;
  // rejectUnauthorized already refused the handshake otherwise; this guards a misconfigured listener.
  if (!socket.authorized) throw new AppError('unauthorized', 'the CA answers only clients with a service certificate');
  let cn = names.get(socket);
  if (cn === undefined) {
    const subjectCn = socket.getPeerCertificate().subject?.CN;
    cn = typeof subjectCn === 'string' ? subjectCn : '';
    names.set(socket, cn);
  }
  return cn;
}

/**
 * Refuses a request the caller's identity may not make: 404 for no such route, 405 for another
 * method than POST, 403 (A00.FR.703) naming who may call it.
 */
export function authorizeServiceCaller(req: IncomingMessage, route: string): void {
  const allowed = ROUTE_CALLERS[route];
  if (allowed === undefined) throw new AppError('not-found', 'no such route');
  if (req.method !== 'POST') throw methodNotAllowed(['POST']);
  const caller = serviceCaller(req);
  if (caller !== allowed) {
    const message = `only ${allowed} may call ${route}; this client is ${caller || 'unnamed'}`;
    throw new AppError('forbidden', message, [{ rule: Rule.separateCa, message }]);
  }
}
