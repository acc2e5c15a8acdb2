"""Competency models through the REST API: templates, JSON and YAML, validation, access."""

from __future__ import annotations

from typing import Any

import yaml

from tests.server.helpers import AppClient, sign_in


async def new_job(client: AppClient, language: str = "en") -> dict[str, Any]:
    """A job created by the signed-in user."""
    resp = await client.post("/api/jobs", json={"title": "Supervisor", "language": language})
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def apply_template(
    client: AppClient, job_id: str, key: str = "production_supervisor", **extra: str
) -> Any:
    resp = await client.post(
        f"/api/jobs/{job_id}/competency-model/from-template", json={"key": key, **extra}
    )
    return resp


async def test_lists_the_built_in_templates_with_both_languages(admin: AppClient) -> None:
    resp = await admin.get("/api/templates")
    assert resp.status == 200
    templates = {t["key"]: t for t in await resp.json()}
    assert {
        "product_manager",
        "production_supervisor",
        "customer_service",
        "software_engineer",
    } <= set(templates)
    supervisor = templates["production_supervisor"]
    assert supervisor["languages"] == ["zh", "en"]
    assert supervisor["titles"]["en"] == "Production Supervisor"


async def test_shows_one_template_in_the_language_asked_for(admin: AppClient) -> None:
    resp = await admin.get("/api/templates/production_supervisor?language=zh")
    assert resp.status == 200
    model = await resp.json()
    assert model["language"] == "zh"
    assert [c["weight"] for c in model["competencies"]] == [40, 30, 30]
    assert (await admin.get("/api/templates/astronaut?language=en")).status == 404
    assert (await admin.get("/api/templates/production_supervisor?language=fr")).status == 400


async def test_applies_a_template_to_a_job_in_the_job_language(admin: AppClient) -> None:
    job = await new_job(admin, "zh")
    assert (await admin.get(f"/api/jobs/{job['id']}/competency-model")).status == 404
    resp = await apply_template(admin, job["id"])
    assert resp.status == 200, await resp.text()
    stored = await (await admin.get(f"/api/jobs/{job['id']}/competency-model")).json()
    assert stored["language"] == "zh"
    assert stored["id"] == "production_supervisor"
    jobs = await (await admin.get("/api/jobs")).json()
    assert [j["competency_model"]["id"] for j in jobs if j["id"] == job["id"]] == [
        "production_supervisor"
    ]


async def test_an_invalid_model_gets_400_listing_every_problem(admin: AppClient) -> None:
    job = await new_job(admin)
    model = await (await admin.get("/api/templates/production_supervisor?language=en")).json()
    model["competencies"][0]["weight"] = 30  # 30 + 30 + 30 = 90
    model["competencies"][1]["questions"] = []
    resp = await admin.put(f"/api/jobs/{job['id']}/competency-model", json=model)
    assert resp.status == 400
    body = await resp.json()
    assert body["error"] == "invalid_competency_model"
    assert len(body["errors"]) == 2
    assert "sum to 100, but they sum to 90" in body["errors"][0]
    assert "'team_management' (Team management) has no main questions" in body["errors"][1]
    for problem in body["errors"]:
        assert problem in body["message"]
    assert (await admin.get(f"/api/jobs/{job['id']}/competency-model")).status == 404


async def test_field_errors_name_where_they_are(admin: AppClient) -> None:
    job = await new_job(admin)
    resp = await admin.put(
        f"/api/jobs/{job['id']}/competency-model",
        json={"id": "x", "job_title": "X", "language": "fr", "competencies": []},
    )
    assert resp.status == 400
    errors = (await resp.json())["errors"]
    assert any(e.startswith("language: unknown language 'fr'") for e in errors), errors
    assert any(e.startswith("competencies:") for e in errors), errors


async def test_a_model_in_another_language_than_the_job_is_refused(admin: AppClient) -> None:
    job = await new_job(admin, "en")
    zh = await (await admin.get("/api/templates/customer_service?language=zh")).json()
    resp = await admin.put(f"/api/jobs/{job['id']}/competency-model", json=zh)
    assert resp.status == 400
    body = await resp.json()
    assert body["error"] == "language_mismatch"
    assert (body["job_language"], body["model_language"]) == ("en", "zh")
    assert "Load the en version of the template" in body["message"]
    resp = await apply_template(admin, job["id"], "customer_service", language="zh")
    assert resp.status == 400
    assert (await resp.json())["error"] == "language_mismatch"


async def test_yaml_round_trip_through_the_api(admin: AppClient) -> None:
    job = await new_job(admin, "zh")
    assert (await apply_template(admin, job["id"], "software_engineer")).status == 200
    resp = await admin.get(f"/api/jobs/{job['id']}/competency-model.yaml")
    assert resp.status == 200
    assert resp.content_type == "application/yaml"
    assert 'filename="software_engineer.zh.yaml"' in resp.headers["Content-Disposition"]
    text = await resp.text()
    data = yaml.safe_load(text)
    data["job_title"] = "后端工程师"
    data["version"] = 2

    edited = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    other = await new_job(admin, "zh")
    resp = await admin.put(
        f"/api/jobs/{other['id']}/competency-model.yaml",
        data=edited.encode(),
        headers={"Content-Type": "application/yaml"},
    )
    assert resp.status == 200, await resp.text()
    stored = await (await admin.get(f"/api/jobs/{other['id']}/competency-model")).json()
    assert stored == data
    again = await (await admin.get(f"/api/jobs/{other['id']}/competency-model.yaml")).text()
    assert yaml.safe_load(again) == data


async def test_a_yaml_syntax_error_gets_400_with_the_line(admin: AppClient) -> None:
    job = await new_job(admin)
    broken = "id: x\njob_title: X\nlanguage: en\ncompetencies:\n  - id: a\n    name: [unclosed\n"
    resp = await admin.put(f"/api/jobs/{job['id']}/competency-model.yaml", data=broken.encode())
    assert resp.status == 400
    body = await resp.json()
    assert body["error"] == "invalid_competency_model"
    assert len(body["errors"]) == 1
    assert body["errors"][0].startswith("not valid YAML at line ")
    assert "not valid YAML" in body["message"]


async def test_a_yaml_body_above_256_kib_is_refused(admin: AppClient) -> None:
    job = await new_job(admin)
    resp = await admin.put(
        f"/api/jobs/{job['id']}/competency-model.yaml", data=b"#" * (256 * 1024 + 1)
    )
    assert resp.status == 413
    assert "256 KiB" in (await resp.json())["message"]


async def test_a_recruiter_may_not_edit_someone_elses_job(admin: AppClient) -> None:
    job = await new_job(admin)
    resp = await admin.post(
        "/api/users",
        json={"email": "rec@example.com", "password": "a long password 1", "role": "recruiter"},
    )
    assert resp.status == 201
    admin.session.cookie_jar.clear()
    await sign_in(admin, "rec@example.com", "a long password 1")
    model = await (await admin.get("/api/templates/production_supervisor?language=en")).json()
    base = f"/api/jobs/{job['id']}/competency-model"
    assert (await admin.put(base, json=model)).status == 403
    assert (await apply_template(admin, job["id"])).status == 403
    assert (await admin.put(f"{base}.yaml", data=b"id: x")).status == 403
    assert (await admin.get(base)).status == 403  # not a member of the job: not even reading

    own = await new_job(admin)
    assert (await apply_template(admin, own["id"])).status == 200


async def test_not_signed_in_gets_401(client: AppClient) -> None:
    assert (await client.get("/api/templates")).status == 401
    assert (await client.get("/api/templates/production_supervisor")).status == 401
    assert (await client.get("/api/jobs/x/competency-model")).status == 401
    assert (await client.put("/api/jobs/x/competency-model", json={})).status == 401
    assert (await client.get("/api/jobs/x/competency-model.yaml")).status == 401
    assert (await client.put("/api/jobs/x/competency-model.yaml", data=b"id: x")).status == 401
    resp = await client.post("/api/jobs/x/competency-model/from-template", json={"key": "x"})
    assert resp.status == 401


async def test_an_unknown_job_gets_404(admin: AppClient) -> None:
    assert (await admin.get("/api/jobs/nope/competency-model")).status == 404
    assert (await apply_template(admin, "nope")).status == 404


async def test_the_jobs_page_is_served(client: AppClient) -> None:
    resp = await client.get("/jobs")
    assert resp.status == 200
    assert "jobs.js" in await resp.text()
