import { Agent, request } from 'undici';
import { readServiceTls, serviceClientTlsOptions, type ServiceCertName } from '@evpki/service';

export interface CaResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly body: any;
}

/**
 * A request to the CA's API (mutual TLS) as one of the services, with its client certificate from
 * the data directory: what the RA (`ra-client`) or the OCSP responder (`ocsp-client`) sends.
 */
export async function caRequest(dataDir: string, caUrl: string, as: ServiceCertName, method: string, path: string, body?: unknown): Promise<CaResponse> {
  const dispatcher = new Agent({ connect: serviceClientTlsOptions(readServiceTls(dataDir, as)) });
  try {
    const res = await request(`${caUrl}${path}`, {
      dispatcher,
      method: method as 'GET' | 'POST',
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text, body: text ? JSON.parse(text) : undefined };
  } finally {
    await dispatcher.close();
  }
}
