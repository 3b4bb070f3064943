//! Every role against every endpoint: 403 exactly where the factory permission matrix says no, and
//! every denial recorded in the audit trail.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::*;

/// The factory grants per role (kiroku_core::PermissionMatrix::factory_default), restated here so
/// that a change to the defaults is a deliberate change to this test too.
fn grants(role: &str) -> &'static [&'static str] {
    match role {
        "doctor" => {
            &["patient.read", "patient.write", "document.read", "document.write", "document.confirm", "document.delete", "document.approve"]
        }
        "nurse" | "pharmacist" => &["patient.read", "document.read", "document.write", "document.confirm"],
        "clerk" => &["patient.read", "patient.write", "document.read", "document.proxy_enter"],
        "admin" => &["user.manage", "role.manage"],
        "auditor" => &["audit.read"],
        _ => &[],
    }
}

struct Case {
    method: Method,
    path: String,
    body: Option<Value>,
    needs: &'static [&'static str],
    action: &'static str,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_and_endpoint_pair_matches_the_matrix() {
    let dir = temp_dir();
    let server = Server::init_and_start(&dir.path().join("data"), &[]);
    let admin = admin(&server).await;
    let roles = ["doctor", "nurse", "pharmacist", "clerk", "admin", "auditor"];
    let mut clients = Vec::new();
    for role in roles {
        let c = if role == "admin" { admin.clone() } else { user(&server, &admin, &format!("u.{role}"), role).await };
        clients.push((role, c));
    }
    let doctor = &clients[0].1;
    let clerk = &clients[3].1;
    let auditor = &clients[5].1;
    create_patient(doctor, "P1").await;

    for (i, (role, c)) in clients.iter().enumerate() {
        // Fresh objects per role, so that one role's change does not decide another's answer.
        let confirmed = doctor.post("/api/v1/patients/P1/documents", note("確定済み")).await.expect(201, "doc");
        let confirmed = confirmed["id"].as_str().expect("id").to_string();
        doctor.post(&format!("/api/v1/documents/{confirmed}/confirm"), json!({})).await.expect(200, "confirm");
        let draft =
            doctor.post("/api/v1/patients/P1/documents", note("下書き")).await.expect(201, "draft")["id"].as_str().expect("id").to_string();
        let mut proxy = note("代行");
        proxy["on_behalf_of"] = json!("u.doctor");
        let pending = clerk.post("/api/v1/patients/P1/documents", proxy).await.expect(201, "proxy")["id"].as_str().expect("id").to_string();

        let cases = [
            Case { method: Method::GET, path: "/api/v1/users".into(), body: None, needs: &["user.manage"], action: "user_list" },
            Case {
                method: Method::POST,
                path: "/api/v1/users".into(),
                body: Some(json!({ "username": format!("new{i}"), "display_name": "新規", "role": "nurse" })),
                needs: &["user.manage"],
                action: "user_create",
            },
            Case {
                method: Method::PATCH,
                path: "/api/v1/users/u.nurse".into(),
                body: Some(json!({ "display_name": "看護師 A" })),
                needs: &["user.manage"],
                action: "user_update",
            },
            Case {
                method: Method::POST,
                path: "/api/v1/users/u.nurse/unlock".into(),
                body: Some(json!({})),
                needs: &["user.manage"],
                action: "user_unlock",
            },
            Case { method: Method::GET, path: "/api/v1/roles".into(), body: None, needs: &["role.manage"], action: "role_read" },
            Case {
                method: Method::PUT,
                path: "/api/v1/roles/pharmacist".into(),
                body: Some(
                    json!({ "permissions": ["patient.read", "document.read", "document.write", "document.confirm"], "classes": ["normal"] }),
                ),
                needs: &["role.manage"],
                action: "role_read",
            },
            Case {
                method: Method::GET,
                path: "/api/v1/patients?q=P1".into(),
                body: None,
                needs: &["patient.read"],
                action: "patient_search",
            },
            Case {
                method: Method::POST,
                path: "/api/v1/patients".into(),
                body: Some(
                    json!({ "patient_id": format!("NEW{i}"), "name": "新規 患者", "name_kana": "シンキ カンジャ", "birth_date": "2000-01-01", "sex": "female" }),
                ),
                needs: &["patient.write"],
                action: "patient_create",
            },
            Case { method: Method::GET, path: "/api/v1/patients/P1".into(), body: None, needs: &["patient.read"], action: "patient_read" },
            Case {
                method: Method::GET,
                path: "/api/v1/patients/P1/documents".into(),
                body: None,
                needs: &["document.read"],
                action: "document_list",
            },
            Case {
                method: Method::POST,
                path: "/api/v1/patients/P1/documents".into(),
                body: Some(note("新規")),
                needs: &["document.write"],
                action: "document_create",
            },
            Case {
                method: Method::GET,
                path: format!("/api/v1/documents/{confirmed}"),
                body: None,
                needs: &["document.read"],
                action: "document_read",
            },
            Case {
                method: Method::GET,
                path: format!("/api/v1/documents/{confirmed}/versions"),
                body: None,
                needs: &["document.read"],
                action: "version_list",
            },
            Case {
                method: Method::GET,
                path: format!("/api/v1/documents/{confirmed}/versions/1"),
                body: None,
                needs: &["document.read"],
                action: "version_read",
            },
            Case {
                method: Method::GET,
                path: format!("/api/v1/documents/{confirmed}/attachments"),
                body: None,
                needs: &["document.read"],
                action: "document_read",
            },
            Case {
                method: Method::PUT,
                path: format!("/api/v1/documents/{confirmed}"),
                body: Some(json!({ "body": "追記", "reason": "追記" })),
                needs: &["document.write", "document.confirm"],
                action: "document_amend",
            },
            Case {
                method: Method::POST,
                path: format!("/api/v1/documents/{draft}/confirm"),
                body: Some(json!({})),
                needs: &["document.confirm"],
                action: "document_confirm",
            },
            Case {
                method: Method::GET,
                path: "/api/v1/approvals".into(),
                body: None,
                needs: &["document.approve"],
                action: "approval_queue",
            },
            Case {
                method: Method::POST,
                path: format!("/api/v1/documents/{pending}/approve"),
                body: Some(json!({})),
                needs: &["document.approve"],
                action: "document_approve",
            },
            Case {
                method: Method::DELETE,
                path: format!("/api/v1/documents/{confirmed}"),
                body: Some(json!({ "reason": "誤登録" })),
                needs: &["document.delete"],
                action: "document_delete",
            },
            Case { method: Method::GET, path: "/api/v1/audit".into(), body: None, needs: &["audit.read"], action: "audit_query" },
        ];
        for case in cases {
            let allowed = case.needs.iter().all(|p| grants(role).contains(p));
            let r = c.send(case.method.clone(), &case.path, case.body.clone(), &[]).await;
            let what = format!("{role} {} {}", case.method, case.path);
            if allowed {
                assert!(r.status.is_success(), "{what} should be allowed: {} {}", r.status, r.body);
            } else {
                assert_eq!((r.status.as_u16(), r.problem_type()), (403, "/problems/forbidden"), "{what} should be refused: {}", r.body);
                let user = if *role == "admin" { "admin".to_string() } else { format!("u.{role}") };
                let trail =
                    auditor.get(&format!("/api/v1/audit?user={user}&outcome=denied&action={}", case.action)).await.expect(200, "audit");
                assert!(trail["events"].as_array().is_some_and(|e| !e.is_empty()), "{what}: the denial is audited");
            }
        }
    }
}
