// ECR smoke test through the AWS SDK for JavaScript v3, run by
// internal/cli's TestSDKSmoke: the same flow and environment as smoke.py
// (see there). The module is resolved from STOWAWAY_JS_SDK
// (internal/cli/testdata/sdk/node_modules after `npm ci` there).
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.STOWAWAY_JS_SDK, "package.json"));
const {
  ECRClient, CreateRepositoryCommand, GetAuthorizationTokenCommand, DescribeImageScanFindingsCommand,
  BatchGetImageCommand, PutImageCommand, DescribeImagesCommand, ListTagsForResourceCommand,
  TagResourceCommand, UntagResourceCommand, PutRegistryScanningConfigurationCommand,
  waitUntilImageScanComplete, paginateDescribeImageScanFindings, ScanNotFoundException,
} = require("@aws-sdk/client-ecr");

let step = "start";
function fail(msg) {
  console.error(`smoke.mjs: ${step}: ${typeof msg === "string" ? msg : JSON.stringify(msg)}`);
  process.exit(1);
}
function check(cond, msg) { if (!cond) fail(msg); }

const ecr = new ECRClient({ endpoint: process.env.STOWAWAY_ENDPOINT });
const registry = process.env.STOWAWAY_REGISTRY;
const image = process.env.STOWAWAY_IMAGE;
const skopeo = process.env.SKOPEO || "skopeo";

async function push(repo, tag) {
  const tok = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData[0];
  const [user, pw] = Buffer.from(tok.authorizationToken, "base64").toString().split(/:(.*)/s);
  check(user === "AWS", `token user ${user}`);
  check(tok.expiresAt instanceof Date && !isNaN(tok.expiresAt), "expiresAt is not a timestamp");
  execFileSync(skopeo, ["copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", `${user}:${pw}`,
    image, `docker://${registry}/${repo}:${tag}`], { stdio: "inherit" });
}

const summary = {};
try {
  step = "create-repository";
  const repo = (await ecr.send(new CreateRepositoryCommand({
    repositoryName: "smoke/basic", imageScanningConfiguration: { scanOnPush: true },
    tags: [{ Key: "team", Value: "smoke" }],
  }))).repository;
  check(repo.repositoryName === "smoke/basic", repo);
  check(repo.createdAt instanceof Date && !isNaN(repo.createdAt), "createdAt is not a timestamp");
  const arn = repo.repositoryArn;

  step = "push";
  await push("smoke/basic", "v1");

  step = "wait image-scan-complete";
  await waitUntilImageScanComplete({ client: ecr, maxWaitTime: 180, minDelay: 1, maxDelay: 2 },
    { repositoryName: "smoke/basic", imageId: { imageTag: "v1" } });

  step = "describe-image-scan-findings (BASIC)";
  const findings = [];
  let last;
  for await (const page of paginateDescribeImageScanFindings({ client: ecr, pageSize: 50 },
    { repositoryName: "smoke/basic", imageId: { imageTag: "v1" } })) {
    findings.push(...(page.imageScanFindings.findings ?? []));
    last = page;
  }
  check(last.imageScanStatus.status === "COMPLETE", last.imageScanStatus);
  check(findings.length > 0, "no findings");
  const completed = last.imageScanFindings.imageScanCompletedAt;
  check(completed instanceof Date && !isNaN(completed), "imageScanCompletedAt is not a timestamp");
  const digest = last.imageId.imageDigest;
  summary.basic = { digest, findings: findings.length, severityCounts: last.imageScanFindings.findingSeverityCounts };

  step = "batch-get-image";
  const got = await ecr.send(new BatchGetImageCommand({ repositoryName: "smoke/basic", imageIds: [{ imageTag: "v1" }] }));
  check(!got.failures?.length, got.failures);
  const { imageManifest, imageManifestMediaType } = got.images[0];

  step = "put-image (retag)";
  const put = (await ecr.send(new PutImageCommand({
    repositoryName: "smoke/basic", imageManifest, imageManifestMediaType, imageTag: "v2",
  }))).image;
  check(put.imageId.imageDigest === digest, put.imageId);

  step = "describe-images after the retag";
  const img = (await ecr.send(new DescribeImagesCommand({ repositoryName: "smoke/basic", imageIds: [{ imageTag: "v2" }] }))).imageDetails[0];
  const tagsNow = [...img.imageTags].sort();
  check(JSON.stringify(tagsNow) === JSON.stringify(["v1", "v2"]), img.imageTags);
  check(img.imageScanFindingsSummary.imageScanCompletedAt.getTime() === completed.getTime(),
    "the retag started a new scan of an existing digest");
  summary.retag = tagsNow;

  step = "tags";
  let tags = (await ecr.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags;
  check(JSON.stringify(tags) === JSON.stringify([{ Key: "team", Value: "smoke" }]), tags);
  await ecr.send(new TagResourceCommand({ resourceArn: arn, tags: [{ Key: "env", Value: "ci" }] }));
  await ecr.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ["team"] }));
  tags = (await ecr.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags;
  check(JSON.stringify(tags) === JSON.stringify([{ Key: "env", Value: "ci" }]), tags);
  summary.tags = tags;

  step = "put-registry-scanning-configuration (ENHANCED)";
  await ecr.send(new PutRegistryScanningConfigurationCommand({
    scanType: "ENHANCED",
    rules: [{ scanFrequency: "SCAN_ON_PUSH", repositoryFilters: [{ filter: "smoke/enhanced", filterType: "WILDCARD" }] }],
  }));
  await ecr.send(new CreateRepositoryCommand({ repositoryName: "smoke/enhanced" }));
  await push("smoke/enhanced", "v1");

  step = "describe-image-scan-findings (ENHANCED)";
  const deadline = Date.now() + 180_000;
  let out, status;
  for (;;) {
    try {
      out = await ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: "smoke/enhanced", imageId: { imageTag: "v1" } }));
      status = out.imageScanStatus.status;
    } catch (e) {
      if (!(e instanceof ScanNotFoundException)) throw e;
      status = "PENDING";
    }
    if (status === "COMPLETE" || status === "ACTIVE") break;
    check(status === "PENDING" || status === "IN_PROGRESS", `scan status ${status}`);
    check(Date.now() < deadline, "the ENHANCED scan did not finish in 180 s");
    await new Promise((r) => setTimeout(r, 1000));
  }
  const enhanced = out.imageScanFindings.enhancedFindings ?? [];
  check(enhanced.length > 0, "no enhanced findings");
  for (const f of enhanced) {
    check(f.packageVulnerabilityDetails?.vulnerabilityId, f);
    check(f.firstObservedAt instanceof Date && !isNaN(f.firstObservedAt), "firstObservedAt is not a timestamp");
    check(f.severity, f);
  }
  summary.enhanced = { status, findings: enhanced.length };
} catch (e) {
  fail(`${e.name}: ${e.message}`);
}
console.log(JSON.stringify(summary));
