import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { AppError, OCSP_CLIENT_CN, RA_CLIENT_CN } from '@evpki/service';

/**
 * Who may call each API route, by the CN of the client certificate the TLS layer verified against
 * the service CA (issue 7). The OCSP responder only gets its delegated signer certificates.
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

/** Refuses a route the caller's identity may not use: 404 for no such route, 403 naming who may call it. */
export function authorizeServiceCaller(req: IncomingMessage, route: string): void {
  const allowed = ROUTE_CALLERS[route];
  if (allowed === undefined) throw new AppError('not-found', 'no such route');
  const caller = serviceCaller(req);
  if (caller !== allowed) throw new AppError('forbidden', `only ${allowed} may call ${route}; this client is ${caller || 'unnamed'}`);
}
