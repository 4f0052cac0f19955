//! Tests of the native enforcers. Params are read from plain JSON through the real catalog
//! schemas, so the values judged are exactly what admission hands the enforcers.

use proptest::prelude::*;
use serde_json::{Value as Json, json};
use worldline_air::catalog::Catalog;
use worldline_air::nodes::{DefKind, Node};
use worldline_air::{Name, TypeExpr, Value};

use super::*;

fn cap_params(cap: &str, plain: Json) -> Value {
    let catalog = Catalog::get();
    let name = Name::parse(cap).unwrap();
    let Some(Node::Cap(def)) = catalog.node(DefKind::Cap, &name) else {
        panic!("{cap} is not a built-in cap");
    };
    Value::from_plain_json(&plain, &def.schema, catalog).unwrap()
}

fn schema_value(schema: &str, plain: Json) -> Value {
    let ty = TypeExpr::Ref(Name::parse(schema).unwrap());
    Value::from_plain_json(&plain, &ty, Catalog::get()).unwrap()
}

fn http_grant(plain: Json) -> Value {
    cap_params("sys/http.out@1", plain)
}

fn http_request(method: &str, url: &str) -> Value {
    schema_value(
        "sys/HttpRequestParams@1",
        json!({"method": method, "url": url, "headers": {}, "body_ref": null}),
    )
}

/// The verdict on `method url` under the grant written as plain JSON: `Ok` or the code.
fn http(grant: Json, method: &str, url: &str) -> Result<(), &'static str> {
    check_http_out(&http_grant(grant), &http_request(method, url)).map_err(|d| d.code)
}

fn llm_grant(plain: Json) -> Value {
    cap_params("sys/llm.basic@1", plain)
}

fn llm_request(provider: &str, model: &str, max_tokens: u64, tool_choice: Json) -> Value {
    schema_value(
        "sys/LlmGenerateParams@1",
        json!({
            "provider": provider, "model": model, "temperature": "0.5",
            "max_tokens": max_tokens, "message_refs": [], "tool_choice": tool_choice,
        }),
    )
}

fn llm(
    grant: Json,
    provider: &str,
    model: &str,
    tokens: u64,
    tool: Json,
) -> Result<(), &'static str> {
    let request = llm_request(provider, model, tokens, tool);
    check_llm_basic(&llm_grant(grant), &request).map_err(|d| d.code)
}

#[test]
fn absent_none_and_empty_restrictions_admit_everything() {
    let urls = [
        "https://example.com/",
        "http://10.0.0.1:9999/any/path?q=1",
        "http://[::1]/",
    ];
    let empty =
        json!({"hosts": [], "schemes": [], "methods": [], "ports": [], "path_prefixes": []});
    let none = json!({"hosts": null, "schemes": null, "methods": null, "ports": null});
    for grant in [json!({}), empty, none] {
        for url in urls {
            assert_eq!(http(grant.clone(), "PATCH", url), Ok(()), "{grant} {url}");
        }
    }
    assert_eq!(
        HttpOutGrant::default().check("GET", "https://example.com/"),
        Ok(())
    );
}

#[test]
fn unparsable_urls_are_url_invalid() {
    for url in [
        "not a url",
        "/relative/path",
        "http://",
        "https://exa mple.com/",
        "mailto:a@b",
    ] {
        assert_eq!(http(json!({}), "GET", url), Err(code::URL_INVALID), "{url}");
    }
}

#[test]
fn only_http_and_https_are_ever_admitted() {
    assert_eq!(
        http(json!({}), "GET", "ftp://example.com/f"),
        Err(code::SCHEME_NOT_ALLOWED)
    );
    assert_eq!(
        http(json!({}), "GET", "ws://example.com/"),
        Err(code::SCHEME_NOT_ALLOWED)
    );
    let grant = json!({"schemes": ["ftp", "https"]});
    assert_eq!(
        http(grant, "GET", "ftp://example.com/f"),
        Err(code::SCHEME_NOT_ALLOWED)
    );
}

#[test]
fn schemes_compare_case_insensitively() {
    let grant = json!({"schemes": ["HTTPS"]});
    assert_eq!(http(grant.clone(), "GET", "https://example.com/"), Ok(()));
    assert_eq!(http(grant.clone(), "GET", "HTTPS://example.com/"), Ok(()));
    assert_eq!(
        http(grant, "GET", "http://example.com/"),
        Err(code::SCHEME_NOT_ALLOWED)
    );
}

#[test]
fn hosts_match_exactly_after_lowercasing() {
    let grant = json!({"hosts": ["Example.COM"]});
    for url in [
        "https://example.com/",
        "https://EXAMPLE.com/x",
        "http://ExAmPlE.cOm:8080/",
    ] {
        assert_eq!(http(grant.clone(), "GET", url), Ok(()), "{url}");
    }
    let denied = [
        "https://api.example.com/",
        "https://example.com.evil.net/",
        "https://example.com./",
        "https://notexample.com/",
    ];
    for url in denied {
        assert_eq!(
            http(grant.clone(), "GET", url),
            Err(code::HOST_NOT_ALLOWED),
            "{url}"
        );
    }
}

#[test]
fn userinfo_is_not_the_host() {
    let grant = json!({"hosts": ["example.com"]});
    assert_eq!(
        http(grant.clone(), "GET", "https://user:pw@example.com/"),
        Ok(())
    );
    let disguised = "https://example.com@evil.net/";
    assert_eq!(
        http(grant.clone(), "GET", disguised),
        Err(code::HOST_NOT_ALLOWED)
    );
    let denial = HttpOutGrant::from_value(&http_grant(grant))
        .unwrap()
        .check("GET", disguised);
    assert!(denial.unwrap_err().message.contains("evil.net"));
}

#[test]
fn ip_hosts_compare_as_addresses() {
    let grant = json!({"hosts": ["::1", "[2001:DB8:0:0::1]", "127.0.0.1"]});
    let allowed = [
        "http://[::1]/",
        "http://[0:0:0:0:0:0:0:1]:8080/",
        "https://[2001:db8::1]/",
        "http://127.0.0.1/",
        "http://0x7f.0.0.1/",
    ];
    for url in allowed {
        assert_eq!(http(grant.clone(), "GET", url), Ok(()), "{url}");
    }
    for url in ["http://[::2]/", "http://127.0.0.2/", "http://localhost/"] {
        assert_eq!(
            http(grant.clone(), "GET", url),
            Err(code::HOST_NOT_ALLOWED),
            "{url}"
        );
    }
}

#[test]
fn hosts_are_idna_mapped() {
    let grant = json!({"hosts": ["Bücher.de"]});
    assert_eq!(http(grant.clone(), "GET", "https://bücher.DE/"), Ok(()));
    assert_eq!(
        http(grant.clone(), "GET", "https://xn--bcher-kva.de/"),
        Ok(())
    );
    assert_eq!(
        http(grant, "GET", "https://bucher.de/"),
        Err(code::HOST_NOT_ALLOWED)
    );
}

#[test]
fn methods_compare_case_insensitively() {
    let grant = json!({"methods": ["get", "Head"]});
    for method in ["GET", "get", "HEAD", "head"] {
        assert_eq!(
            http(grant.clone(), method, "https://h.example/"),
            Ok(()),
            "{method}"
        );
    }
    for method in ["POST", "DELETE", ""] {
        let verdict = http(grant.clone(), method, "https://h.example/");
        assert_eq!(verdict, Err(code::METHOD_NOT_ALLOWED), "{method}");
    }
}

#[test]
fn ports_default_per_scheme() {
    let grant = json!({"ports": [443, 8080]});
    let allowed = [
        "https://h.example/",
        "https://h.example:443/",
        "http://h.example:8080/",
    ];
    for url in allowed {
        assert_eq!(http(grant.clone(), "GET", url), Ok(()), "{url}");
    }
    let denied = [
        "http://h.example/",
        "http://h.example:80/",
        "https://h.example:8443/",
    ];
    for url in denied {
        assert_eq!(
            http(grant.clone(), "GET", url),
            Err(code::PORT_NOT_ALLOWED),
            "{url}"
        );
    }
    assert_eq!(
        http(json!({"ports": [80]}), "GET", "http://h.example/"),
        Ok(())
    );
}

#[test]
fn path_prefixes_match_on_segment_boundaries() {
    let grant = json!({"path_prefixes": ["/api"]});
    let allowed = [
        "/api",
        "/api/",
        "/api/v1/x",
        "/api?q=/x",
        "/x/../api/y",
        "/api#frag",
    ];
    for path in allowed {
        let url = format!("https://h.example{path}");
        assert_eq!(http(grant.clone(), "GET", &url), Ok(()), "{path}");
    }
    let denied = [
        "/apix",
        "/",
        "/API",
        "/ap",
        "/api/../admin",
        "/%61pi",
        "/other/api",
    ];
    for path in denied {
        let url = format!("https://h.example{path}");
        assert_eq!(
            http(grant.clone(), "GET", &url),
            Err(code::PATH_NOT_ALLOWED),
            "{path}"
        );
    }
}

#[test]
fn a_prefix_ending_in_slash_covers_only_what_is_below_it() {
    let grant = json!({"path_prefixes": ["/api/", "/static/img"]});
    assert_eq!(
        http(grant.clone(), "GET", "https://h.example/api/x"),
        Ok(())
    );
    assert_eq!(http(grant.clone(), "GET", "https://h.example/api/"), Ok(()));
    let verdict = http(grant.clone(), "GET", "https://h.example/api");
    assert_eq!(verdict, Err(code::PATH_NOT_ALLOWED));
    assert_eq!(
        http(grant, "GET", "https://h.example/static/img/a.png"),
        Ok(())
    );
    assert_eq!(
        http(
            json!({"path_prefixes": ["/"]}),
            "GET",
            "https://h.example/a/b"
        ),
        Ok(())
    );
}

#[test]
fn checks_run_in_the_documented_order() {
    let grant = json!({
        "schemes": ["https"], "hosts": ["ok.example"], "methods": ["GET"],
        "ports": [443], "path_prefixes": ["/ok"],
    });
    let cases = [
        ("POST", "http://bad.example:1/bad", code::SCHEME_NOT_ALLOWED),
        ("POST", "https://bad.example:1/bad", code::HOST_NOT_ALLOWED),
        ("POST", "https://ok.example:1/bad", code::METHOD_NOT_ALLOWED),
        ("GET", "https://ok.example:1/bad", code::PORT_NOT_ALLOWED),
        ("GET", "https://ok.example/bad", code::PATH_NOT_ALLOWED),
    ];
    for (method, url, expected) in cases {
        assert_eq!(
            http(grant.clone(), method, url),
            Err(expected),
            "{method} {url}"
        );
    }
    assert_eq!(http(grant, "get", "https://OK.example:443/ok/x"), Ok(()));
}

#[test]
fn unusable_grant_entries_fail_closed() {
    for grant in [
        json!({"hosts": ["exa mple.com"]}),
        json!({"path_prefixes": ["api"]}),
    ] {
        let verdict = http(grant.clone(), "GET", "https://example.com/api");
        assert_eq!(verdict, Err(code::CAP_PARAMS_INVALID), "{grant}");
    }
}

#[test]
fn malformed_params_are_denied_not_panicked_on() {
    let request = http_request("GET", "https://h.example/");
    let not_a_record = Value::Text("x".into());
    let wrong_field = Value::record([("hosts", Value::Text("h.example".into()))]);
    for grant in [&not_a_record, &wrong_field] {
        let denial = check_http_out(grant, &request).unwrap_err();
        assert_eq!(denial.code, code::CAP_PARAMS_INVALID);
    }
    let no_url = Value::record([("method", Value::Text("GET".into()))]);
    let denial = check_http_out(&http_grant(json!({})), &no_url).unwrap_err();
    assert_eq!(denial.code, code::EFFECT_PARAMS_INVALID);
    let denial = check_llm_basic(&llm_grant(json!({})), &no_url).unwrap_err();
    assert_eq!(denial.code, code::EFFECT_PARAMS_INVALID);
}

#[test]
fn llm_providers_and_models_match_exactly() {
    let grant = json!({"providers": ["openai"], "models": ["gpt-4o", "gpt-4o-mini"]});
    assert_eq!(
        llm(grant.clone(), "openai", "gpt-4o-mini", 10, Json::Null),
        Ok(())
    );
    let verdict = llm(grant.clone(), "anthropic", "gpt-4o", 10, Json::Null);
    assert_eq!(verdict, Err(code::PROVIDER_NOT_ALLOWED));
    let verdict = llm(grant.clone(), "OpenAI", "gpt-4o", 10, Json::Null);
    assert_eq!(verdict, Err(code::PROVIDER_NOT_ALLOWED));
    let verdict = llm(grant, "openai", "gpt-5", 10, Json::Null);
    assert_eq!(verdict, Err(code::MODEL_NOT_ALLOWED));
}

#[test]
fn llm_max_tokens_is_an_upper_bound() {
    let grant = json!({"max_tokens": 1000});
    assert_eq!(llm(grant.clone(), "p", "m", 1000, Json::Null), Ok(()));
    assert_eq!(llm(grant.clone(), "p", "m", 0, Json::Null), Ok(()));
    let verdict = llm(grant, "p", "m", 1001, Json::Null);
    assert_eq!(verdict, Err(code::MAX_TOKENS_EXCEEDED));
    assert_eq!(
        llm(json!({"max_tokens": null}), "p", "m", u64::MAX, Json::Null),
        Ok(())
    );
}

#[test]
fn llm_tools_allow_constrains_a_forced_tool() {
    let grant = json!({"tools_allow": ["search"]});
    let forced = |name: &str| json!({"$tag": "Tool", "$value": {"name": name}});
    assert_eq!(llm(grant.clone(), "p", "m", 1, forced("search")), Ok(()));
    let verdict = llm(grant.clone(), "p", "m", 1, forced("shell"));
    assert_eq!(verdict, Err(code::TOOL_NOT_ALLOWED));
    for choice in ["Auto", "None", "Required"] {
        assert_eq!(
            llm(grant.clone(), "p", "m", 1, json!(choice)),
            Ok(()),
            "{choice}"
        );
    }
    assert_eq!(
        llm(json!({"tools_allow": []}), "p", "m", 1, forced("shell")),
        Ok(())
    );
    assert_eq!(llm(json!({}), "p", "m", 1, forced("shell")), Ok(()));
}

#[test]
fn llm_empty_restrictions_admit_everything() {
    let grant = json!({"providers": [], "models": [], "tools_allow": []});
    assert_eq!(llm(grant, "any", "thing", 1 << 40, Json::Null), Ok(()));
}

#[test]
fn builtin_dispatch_by_module_and_kind() {
    let grant = http_grant(json!({"hosts": ["h.example"]}));
    let request = http_request("GET", "https://other.example/");
    let verdict = enforce_builtin(HTTP_OUT_ENFORCER, HTTP_REQUEST_KIND, &grant, &request);
    assert_eq!(verdict.unwrap().unwrap_err().code, code::HOST_NOT_ALLOWED);
    let verdict = enforce_builtin(HTTP_OUT_ENFORCER, LLM_GENERATE_KIND, &grant, &request);
    assert_eq!(
        verdict.unwrap().unwrap_err().code,
        code::EFFECT_KIND_MISMATCH
    );
    assert!(enforce_builtin("acme/Enforcer@1", HTTP_REQUEST_KIND, &grant, &request).is_none());
    let llm_grant = llm_grant(json!({"max_tokens": 5}));
    let request = llm_request("p", "m", 6, Json::Null);
    let verdict = enforce_builtin(LLM_BASIC_ENFORCER, LLM_GENERATE_KIND, &llm_grant, &request);
    assert_eq!(
        verdict.unwrap().unwrap_err().code,
        code::MAX_TOKENS_EXCEEDED
    );
}

#[test]
fn verdicts_become_cap_check_outputs() {
    let output_type = TypeExpr::Ref(Name::parse("sys/CapCheckOutput@1").unwrap());
    let ok = cap_check_output(&Ok(()));
    let denied = cap_check_output(&Err(Denial::new(code::HOST_NOT_ALLOWED, "no")));
    for value in [&ok, &denied] {
        let normal = value
            .clone()
            .normalize(&output_type, Catalog::get())
            .unwrap();
        assert_eq!(&normal, value);
    }
    assert_eq!(ok.field("constraints_ok"), Some(&Value::Bool(true)));
    assert_eq!(
        denied.field("deny").unwrap().field("code").unwrap(),
        &Value::Text("host_not_allowed".into())
    );
}

fn segments() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[a-c]{1,2}", 0..4)
}

proptest! {
    /// A segment-wise prefix is exactly what `path_prefixes` admits.
    #[test]
    fn path_prefix_is_segment_prefix(path in segments(), prefix in segments()) {
        let url = format!("https://h.example/{}", path.join("/"));
        let grant = json!({"path_prefixes": [format!("/{}", prefix.join("/"))]});
        let expected = path.starts_with(&prefix);
        prop_assert_eq!(http(grant, "GET", &url).is_ok(), expected);
    }

    /// Writing a scheme's default port never changes a verdict.
    #[test]
    fn explicit_default_port_is_the_same_request(
        host in "[a-z]{1,8}\\.example",
        secure in any::<bool>(),
        port in prop::sample::select(vec![80u64, 443, 8080]),
    ) {
        let (scheme, default) = if secure { ("https", 443) } else { ("http", 80) };
        let grant = json!({"ports": [port]});
        let bare = http(grant.clone(), "GET", &format!("{scheme}://{host}/"));
        let explicit = http(grant, "GET", &format!("{scheme}://{host}:{default}/"));
        prop_assert_eq!(bare, explicit);
        prop_assert_eq!(bare.is_ok(), port == default);
    }

    /// Any text at all as method and URL gets a verdict, never a panic.
    #[test]
    fn any_input_gets_a_verdict(method in ".{0,8}", url in ".{0,40}") {
        let grant = json!({"hosts": ["h.example"], "path_prefixes": ["/a"], "ports": [443]});
        let _ = http(grant, &method, &url);
        let _ = http(json!({}), &method, &format!("https://{url}"));
    }
}
