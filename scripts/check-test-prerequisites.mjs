// Runs first in `npm test`: checks that the programs the tests start are installed, and
// stops with one line per missing program (naming the Debian package that provides it)
// before anything is built, instead of letting dozens of tests fail on a missing binary.
// `.ci/run`, run as root on a fresh Debian machine, installs every package listed here.
import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * Every program the tests need: the name looked up on PATH, the Debian package that installs
 * it, and what the tests use it for. Add a row when a test starts a new program (and the
 * package to `.ci/run`). Optional peers that the tests use only when present (notation,
 * oras, opa) are not listed: their tests say why they did not run.
 */
const PREREQUISITES = [
  {
    program: 'openssl',
    package: 'openssl',
    purpose: 'an independent maker of keys and certificates for the interoperability tests',
  },
  {
    program: 'skopeo',
    package: 'skopeo',
    purpose: "an independent registry client for the registry's integration tests",
  },
  {
    program: 'docker-registry',
    package: 'docker-registry',
    purpose: 'CNCF distribution 2.8, a registry without the referrers API, for the client tests',
  },
  {
    program: 'docker',
    package: 'docker.io',
    purpose: "the docker client, for the docker CLI plugin's tests",
  },
  {
    program: 'podman',
    package: 'podman',
    purpose:
      "a real engine behind the Docker API (podman system service) for the plugin's run tests",
  },
  {
    program: 'chromium',
    package: 'chromium',
    purpose: "a real browser (headless, driven by playwright-core) for the registry web UI's tests",
  },
  {
    program: 'runc',
    package: 'runc',
    purpose: 'the OCI runtime podman starts the test containers with',
  },
  {
    program: 'ceph-mon',
    package: 'ceph-mon',
    purpose: "Ceph's monitor, for the single-node cluster behind the S3 tests (scripts/ceph-s3.sh)",
  },
  {
    program: 'ceph-osd',
    package: 'ceph-osd',
    purpose: "Ceph's object store daemon, for the S3 tests' cluster",
  },
  {
    program: 'radosgw',
    package: 'radosgw',
    purpose: "Ceph's RADOS Gateway, the real S3 server of the S3 storage tests",
  },
  {
    program: 'ceph',
    package: 'ceph-common',
    purpose:
      "Ceph's admin tools (ceph, ceph-authtool, monmaptool), to set up the S3 tests' cluster",
  },
  {
    program: 'nginx',
    package: 'nginx',
    purpose: 'the load balancer in front of the registry replicas in the replica tests',
  },
  {
    program: 'curl',
    package: 'curl',
    purpose: "scripts/ceph-s3.sh's readiness probe of the RADOS Gateway",
  },
  {
    program: 'python3',
    package: 'python3',
    purpose: 'scripts/ceph-s3.sh and the test signing plugin',
  },
  {
    program: 'softhsm2-util',
    package: 'softhsm2',
    purpose: 'SoftHSM 2, a real PKCS#11 token for the signing-with-token-keys tests',
  },
  {
    program: 'pkcs11-tool',
    package: 'opensc',
    purpose: 'generates and imports keys inside the test token',
  },
  {
    program: 'initdb',
    package: 'postgresql',
    purpose:
      'PostgreSQL (initdb, pg_ctl), the metadata database of the registry tests (scripts/postgres.sh)',
    // Debian keeps the server's programs off PATH, one directory per major version.
    dirs: () => postgresBinDirs(),
  },
];

/** The bin directories of the installed PostgreSQL versions (Debian layout). */
function postgresBinDirs() {
  try {
    return readdirSync('/usr/lib/postgresql').map((version) =>
      join('/usr/lib/postgresql', version, 'bin'),
    );
  } catch {
    return [];
  }
}

/** Whether `program` is an executable file in one of the PATH directories (or `dirs`). */
function onPath(program, dirs = (process.env.PATH ?? '').split(delimiter)) {
  for (const dir of dirs) {
    if (dir === '') continue;
    const path = join(dir, program);
    try {
      accessSync(path, constants.X_OK);
      if (statSync(path).isFile()) return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

const missing = PREREQUISITES.filter((p) => !onPath(p.program, p.dirs?.()));
if (missing.length > 0) {
  for (const p of missing)
    console.error(`missing program: ${p.program} (Debian package ${p.package}): ${p.purpose}`);
  const packages = [...new Set(missing.map((p) => p.package))].join(' ');
  console.error(
    `npm test needs them: apt-get install -y ${packages} (or run .ci/run as root, which installs them and runs the tests)`,
  );
  process.exit(1);
}
