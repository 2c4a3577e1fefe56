/**
 * comlink on worker_threads, typed. comlink's package has no `exports` map and its `main` is a UMD
 * build, so under NodeNext we import the ESM files directly and give them their types here.
 */
// @ts-expect-error: the .mjs files ship no declarations of their own; the types are restated below.
import * as ComlinkImpl from 'comlink/dist/esm/comlink.mjs';
// @ts-expect-error: see above.
import nodeEndpointImpl from 'comlink/dist/esm/node-adapter.mjs';
import type * as ComlinkTypes from 'comlink/dist/esm/comlink.js';
import type { MessagePort, Worker } from 'node:worker_threads';

export const Comlink = ComlinkImpl as typeof ComlinkTypes;
export type Remote<T> = ComlinkTypes.Remote<T>;
export const nodeEndpoint = nodeEndpointImpl as (port: MessagePort | Worker) => ComlinkTypes.Endpoint;
