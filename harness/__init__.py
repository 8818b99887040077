"""harness: (SWE-bench instance, candidate patch) -> verdict, in Docker. Knows nothing of LLMs.

Modules (import what you need; nothing heavy is imported here):
- harness.instance  SWEInstance (SWE-bench schema + overrides), load_instances, from_local_repo
- harness.patch     validate, normalize, patch_hash, touched_files, drop_files, is_test_path
- harness.sandbox   Limits, Sandbox (one locked-down container), ExecResult, cleanup_all
- harness.images    ensure_base_images, ensure_image, build_instance_image, list_images, prune
- harness.verify    Verifier (.ensure_image, .verify, .verify_many, .run_tests), PatchVerdict
- harness.health    image validation before the first candidate (broken image -> `error`)
- harness.runners   per-runner structured reports (JUnit, summaries) and test selection
- harness.batch     verify_predictions (a SWE-bench predictions file -> report)
- harness.engine    Docker or Podman, local or remote (--engine); limits an engine would not enforce
- harness.capacity  per-engine cap on live sandboxes, ramp-up and back-off
- harness.disk      disk preflight and --disk-budget (least-recently-used instance images pruned)
See harness/README.md.
"""
