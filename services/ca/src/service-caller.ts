import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { Rule } from '@evpki/policy';
import type { CaOperation } from '@evpki/ca-client';
import { AppError } from '@evpki/service';

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
 * The caller of an operation, by the CN of the client certificate the TLS layer verified against
 * the service CA (issue 7); 403 (A00.FR.703) naming who may call it when the contract names
 * another service (the OCSP responder gets its delegated signer certificates and nothing else).
 */
export function authorizeServiceCaller(req: IncomingMessage, op: Pick<CaOperation<unknown, unknown>, 'caller' | 'path'>): string {
  const caller = serviceCaller(req);
  if (op.caller !== undefined && caller !== op.caller) {
    const message = `only ${op.caller} may call ${op.path}; this client is ${caller || 'unnamed'}`;
    throw new AppError('forbidden', message, [{ rule: Rule.separateCa, message }]);
  }
  return caller;
}
