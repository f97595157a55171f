// A small two-platform OCI image index pushed straight through the registry API (blob by blob,
// one distinct digest per version and variant), for tests of what happens to tags: moving and
// re-pointing tags only copies manifests, so a real build would add minutes and nothing else.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { immutableTags, type ImageTagsConfig } from '../../activities/lib/image-tags';
import { parseImageRepository, type Manifest, type RegistryClient } from '../../activities/lib/registry-client';

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

function manifestOf(json: Record<string, unknown>): Manifest {
  const bytes = Buffer.from(JSON.stringify(json));
  return { digest: sha256(bytes), mediaType: json.mediaType as string, bytes, json };
}

async function uploadBlob(host: string, repository: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const start = await fetch(`http://${host}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
  await start.body?.cancel();
  assert.equal(start.status, 202, 'blob upload start');
  const url = new URL(start.headers.get('location')!, `http://${host}`);
  url.searchParams.set('digest', digest);
  const put = await fetch(url, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
  await put.body?.cancel();
  assert.equal(put.status, 201, 'blob upload');
  return digest;
}

/**
 * Uploads a linux/amd64 + linux/arm64 index for one version of one variant and gives it its
 * immutable tags, as a release's push does; returns the index as the registry serves it.
 */
export async function pushIndex(
  config: ImageTagsConfig & { readonly images: { readonly repository: string } },
  client: RegistryClient,
  version: string,
  variant: string,
): Promise<Manifest> {
  const { registry, repository } = parseImageRepository(config.images.repository);
  const layer = Buffer.from(`${variant} ${version}\n`);
  const layerDigest = await uploadBlob(registry, repository, layer);
  const entries = [];
  for (const architecture of ['amd64', 'arm64']) {
    const imageConfig = Buffer.from(
      JSON.stringify({
        architecture,
        os: 'linux',
        config: { Labels: { 'org.opencontainers.image.version': version } },
        rootfs: { type: 'layers', diff_ids: [sha256(layer)] },
      }),
    );
    const image = manifestOf({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: await uploadBlob(registry, repository, imageConfig), size: imageConfig.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
    });
    await client.putManifest(image.digest, image);
    entries.push({ mediaType: image.mediaType, digest: image.digest, size: image.bytes.length, platform: { os: 'linux', architecture } });
  }
  const index = manifestOf({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries });
  for (const tag of immutableTags(config, variant, version)) await client.putManifest(tag, index);
  return (await client.getManifest(immutableTags(config, variant, version)[0]!))!;
}
