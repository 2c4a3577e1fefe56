/**
 * Creates (or opens) a KV or object store bucket, retried a few times. Nodes of a cluster start
 * together, and two creating the same bucket at once can see the second refused (nats-server
 * 2.9.10 answers "subjects overlap with an existing stream" to the stream the first one just
 * made; seen in the ownership tests): looked at again a moment later, the bucket is there and
 * the create opens it.
 */
export async function createBucket<T>(create: () => Promise<T>, attempts = 6): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await create();
    } catch (err) {
      if (i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 25 * 2 ** i));
    }
  }
}
