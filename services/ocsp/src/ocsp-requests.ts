import type { IncomingMessage, ServerResponse } from 'node:http';
import { OCSP_LIMITS } from '@evpki/ocsp';
import type { Replies } from './replies.js';
import type { Responder } from './responder.js';

/** base64 of the largest request we accept, URL-encoded: well under the header size limit. */
const MAX_GET_PATH = 6 * OCSP_LIMITS.maxRequestBytes;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** How a handler reports a failure: replies.fail with the route's label. */
type Fail = (req: IncomingMessage, res: ServerResponse, err: unknown) => void;

/**
 * OCSP over HTTP (RFC 6960 A.1): POST /ocsp with the DER request as the body, GET /ocsp/{request}
 * with it base64 and URL-encoded in the path. Callbacks, not promises: this is the hot path, and a
 * pre-signed answer from memory is sent synchronously.
 */
export function createOcspRequests(responder: Responder, replies: Replies) {
  /**
   * Reads a POST body up to the OCSP request limit, then calls `done` with it (undefined when it
   * is larger).
   */
  function readRequest(req: IncomingMessage, res: ServerResponse, fail: Fail, done: (body: Buffer | undefined) => void): void {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > OCSP_LIMITS.maxRequestBytes) return done(undefined);
    const chunks: Buffer[] = [];
    let size = 0;
    let finished = false;
    const finish = (body: Buffer | undefined): void => {
      if (finished) return;
      finished = true;
      try {
        done(body);
      } catch (err) {
        fail(req, res, err);
      }
    };
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > OCSP_LIMITS.maxRequestBytes) {
        req.removeAllListeners('data');
        req.pause();
        finish(undefined);
      } else chunks.push(c);
    });
    req.on('end', () => finish(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', (err) => {
      if (!finished) {
        finished = true;
        fail(req, res, err);
      }
    });
  }

  function answerPost(req: IncomingMessage, res: ServerResponse, fail: Fail, type: string | undefined, body: Buffer | undefined): void {
    if (body === undefined) return replies.sendMalformed(res, 'POST', true);
    if (type !== undefined && type !== 'application/ocsp-request') return replies.sendMalformed(res, 'POST', false);
    const requestKey = body.toString('latin1');
    const hit = responder.recall(requestKey);
    if (hit) return replies.send(res, hit, 'POST', false);
    responder.answerAndRemember(body, requestKey).then(
      (a) => replies.send(res, a, 'POST', false),
      (err: unknown) => fail(req, res, err),
    );
  }

  return {
    /** POST /ocsp (also / and /ocsp/…): the DER request as the body. */
    post: (req: IncomingMessage, res: ServerResponse, fail: Fail): void => {
      const type = req.headers['content-type'];
      readRequest(req, res, fail, (body) => answerPost(req, res, fail, type, body));
    },

    /** GET /ocsp/{url-encoded base64 DER} (RFC 6960 A.1); '/' and '+' may also arrive unencoded. */
    get: (req: IncomingMessage, res: ServerResponse, fail: Fail): void => {
      const url = req.url ?? '/';
      const ifNoneMatch = req.headers['if-none-match'];
      const hit = responder.recall(url);
      if (hit) return replies.send(res, hit, 'GET', true, ifNoneMatch);
      let b64 = url.slice('/ocsp/'.length);
      if (b64.length > MAX_GET_PATH) return replies.sendMalformed(res, 'GET', false);
      if (b64.includes('%')) {
        try {
          b64 = decodeURIComponent(b64);
        } catch {
          return replies.sendMalformed(res, 'GET', false);
        }
      }
      if (!BASE64.test(b64) || b64.length % 4 !== 0 || b64.length === 0) return replies.sendMalformed(res, 'GET', false);
      responder.answerAndRemember(Buffer.from(b64, 'base64'), url).then(
        (a) => replies.send(res, a, 'GET', true, ifNoneMatch),
        (err: unknown) => fail(req, res, err),
      );
    },
  };
}
export type OcspRequests = ReturnType<typeof createOcspRequests>;
