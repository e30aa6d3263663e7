"""ECR smoke test through boto3, run by internal/cli's TestSDKSmoke.

The flow a platform team's automation runs against ECR: create a repository
(scan on push, with tags), push with skopeo using the token from
GetAuthorizationToken, wait for the scan with boto3's own waiter, read the
BASIC findings, retag with BatchGetImage + PutImage (no new scan), tag and
untag the repository, then switch the registry to ENHANCED scanning, push
again and read the enhanced findings. Any mismatch exits 1 naming the step;
the summary is printed as JSON on stdout for the Go test to compare.

Environment: STOWAWAY_ENDPOINT (http://host:port), STOWAWAY_REGISTRY
(host:port), STOWAWAY_IMAGE (a skopeo source such as docker-archive:PATH),
SKOPEO, and the usual AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_DEFAULT_REGION.
"""
import base64
import datetime
import json
import os
import subprocess
import sys
import time

import boto3

step = "start"


def fail(msg):
    print(f"smoke.py: {step}: {msg}", file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


ecr = boto3.client("ecr", endpoint_url=os.environ["STOWAWAY_ENDPOINT"])
registry = os.environ["STOWAWAY_REGISTRY"]
image = os.environ["STOWAWAY_IMAGE"]
skopeo = os.environ.get("SKOPEO", "skopeo")


def push(repo, tag):
    tok = ecr.get_authorization_token()["authorizationData"][0]
    user, pw = base64.b64decode(tok["authorizationToken"]).decode().split(":", 1)
    check(user == "AWS", f"token user {user!r}")
    check(isinstance(tok["expiresAt"], datetime.datetime), "expiresAt is not a timestamp")
    subprocess.run(
        [skopeo, "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", f"{user}:{pw}",
         image, f"docker://{registry}/{repo}:{tag}"],
        check=True,
    )


summary = {}

step = "create-repository"
repo = ecr.create_repository(
    repositoryName="smoke/basic",
    imageScanningConfiguration={"scanOnPush": True},
    tags=[{"Key": "team", "Value": "smoke"}],
)["repository"]
check(repo["repositoryName"] == "smoke/basic", repo)
check(isinstance(repo["createdAt"], datetime.datetime), "createdAt is not a timestamp")
arn = repo["repositoryArn"]

step = "push"
push("smoke/basic", "v1")

step = "wait image-scan-complete"
ecr.get_waiter("image_scan_complete").wait(
    repositoryName="smoke/basic", imageId={"imageTag": "v1"},
    WaiterConfig={"Delay": 1, "MaxAttempts": 180},
)

step = "describe-image-scan-findings (BASIC)"
findings, token = [], None
while True:
    kw = {"repositoryName": "smoke/basic", "imageId": {"imageTag": "v1"}, "maxResults": 50}
    if token:
        kw["nextToken"] = token
    out = ecr.describe_image_scan_findings(**kw)
    findings += out["imageScanFindings"].get("findings", [])
    token = out.get("nextToken")
    if not token:
        break
check(out["imageScanStatus"]["status"] == "COMPLETE", out["imageScanStatus"])
check(findings, "no findings")
completed = out["imageScanFindings"]["imageScanCompletedAt"]
check(isinstance(completed, datetime.datetime), "imageScanCompletedAt is not a timestamp")
digest = out["imageId"]["imageDigest"]
summary["basic"] = {
    "digest": digest,
    "findings": len(findings),
    "severityCounts": out["imageScanFindings"]["findingSeverityCounts"],
}

step = "batch-get-image"
got = ecr.batch_get_image(repositoryName="smoke/basic", imageIds=[{"imageTag": "v1"}])
check(not got.get("failures"), got.get("failures"))
manifest = got["images"][0]["imageManifest"]
media_type = got["images"][0].get("imageManifestMediaType")

step = "put-image (retag)"
kw = {"repositoryName": "smoke/basic", "imageManifest": manifest, "imageTag": "v2"}
if media_type:
    kw["imageManifestMediaType"] = media_type
put = ecr.put_image(**kw)["image"]
check(put["imageId"]["imageDigest"] == digest, put["imageId"])

step = "describe-images after the retag"
img = ecr.describe_images(repositoryName="smoke/basic", imageIds=[{"imageTag": "v2"}])["imageDetails"][0]
check(sorted(img["imageTags"]) == ["v1", "v2"], img["imageTags"])
check(img["imageScanFindingsSummary"]["imageScanCompletedAt"] == completed,
      "the retag started a new scan of an existing digest")
summary["retag"] = sorted(img["imageTags"])

step = "tags"
tags = ecr.list_tags_for_resource(resourceArn=arn)["tags"]
check(tags == [{"Key": "team", "Value": "smoke"}], tags)
ecr.tag_resource(resourceArn=arn, tags=[{"Key": "env", "Value": "ci"}])
ecr.untag_resource(resourceArn=arn, tagKeys=["team"])
tags = ecr.list_tags_for_resource(resourceArn=arn)["tags"]
check(tags == [{"Key": "env", "Value": "ci"}], tags)
summary["tags"] = tags

step = "put-registry-scanning-configuration (ENHANCED)"
ecr.put_registry_scanning_configuration(
    scanType="ENHANCED",
    rules=[{"scanFrequency": "SCAN_ON_PUSH",
            "repositoryFilters": [{"filter": "smoke/enhanced", "filterType": "WILDCARD"}]}],
)
ecr.create_repository(repositoryName="smoke/enhanced")
push("smoke/enhanced", "v1")

step = "describe-image-scan-findings (ENHANCED)"
deadline = time.time() + 180
while True:
    try:
        out = ecr.describe_image_scan_findings(repositoryName="smoke/enhanced", imageId={"imageTag": "v1"})
        status = out["imageScanStatus"]["status"]
    except ecr.exceptions.ScanNotFoundException:
        status = "PENDING"
    if status in ("COMPLETE", "ACTIVE"):
        break
    check(status in ("PENDING", "IN_PROGRESS"), f"scan status {status}")
    check(time.time() < deadline, "the ENHANCED scan did not finish in 180 s")
    time.sleep(1)
enhanced = out["imageScanFindings"].get("enhancedFindings", [])
check(enhanced, "no enhanced findings")
for f in enhanced:
    check(f["packageVulnerabilityDetails"]["vulnerabilityId"], f)
    check(isinstance(f["firstObservedAt"], datetime.datetime), "firstObservedAt is not a timestamp")
    check(f["severity"], f)
summary["enhanced"] = {"status": status, "findings": len(enhanced)}

print(json.dumps(summary, sort_keys=True))
