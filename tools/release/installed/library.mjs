// Run inside the clean-install project: the installed libraries used in
// process, as the package READMEs show them. Usage: node library.mjs <dir>
import assert from 'node:assert/strict';
import { Bus, ErrorCode } from '@mmsb/bus';
import { ResidencyManager } from '@mmsb/gpu';
import { serveMetrics } from '@mmsb/metrics';

const bus = await Bus.open(process.argv[2]);
try {
  const page = await bus.createPage({ size: 8 });
  await bus.apply({ pageId: page, payload: { kind: 'dense', bytes: new Uint8Array(8).fill(7) } });
  assert.ok(Buffer.from(bus.read(page)).equals(Buffer.alloc(8, 7)), 'bytes read back differ');

  const metrics = await serveMetrics(bus, { listen: '127.0.0.1:0' });
  const text = await (await fetch(metrics.url)).text();
  await metrics.close();
  assert.match(text, /^# TYPE mmsb_/m);

  const gpu = new ResidencyManager(bus, { budgetBytes: 1 << 20 });
  const onDevice = await bus.createPage({ size: 8, location: 'gpu' }).then(
    () => 'created',
    (error) => error.code,
  );
  assert.ok(onDevice === 'created' || onDevice === ErrorCode.CUDA_UNAVAILABLE, `gpu page: ${onDevice}`);
  console.log(
    `library: bus, metrics (${text.split('\n').length} lines of Prometheus text), gpu (${onDevice}, ${gpu.stats().evictions} evictions)`,
  );
} finally {
  await bus.close();
}
