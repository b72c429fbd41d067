// Run by `pnpm version-packages` after `changeset version`: MMSB.jl is not an
// npm package, so changesets cannot bump it; it takes the version of the fixed
// group (its Project.toml and the client name it sends in `hello`).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LEAD_PACKAGE, publishedPackages, ROOT } from './workspace.mjs';

const version = publishedPackages().find((pkg) => pkg.name === LEAD_PACKAGE).version;
const edits = [
  [join(ROOT, 'julia', 'MMSB.jl', 'Project.toml'), /^version = "[^"]+"$/m, `version = "${version}"`],
  [join(ROOT, 'julia', 'MMSB.jl', 'src', 'bus.jl'), /^const CLIENT_NAME = "MMSB\.jl [^"]+"$/m, `const CLIENT_NAME = "MMSB.jl ${version}"`],
];
for (const [file, pattern, line] of edits) {
  const text = readFileSync(file, 'utf8');
  if (!pattern.test(text)) throw new Error(`${file}: no line matching ${pattern}`);
  writeFileSync(file, text.replace(pattern, line));
}
console.log(`MMSB.jl is at ${version}, with the npm packages`);
