# Sourced by the benchmarks: seed_credentials URL DIR registers an account
# on the running server at URL and mints what the scenarios present:
# ACCESS (a session JWT from token/pair), SK (an sk with stac), SK_BOUND
# (the same bound to one collection) and TK (a tk minted with the sk, so its
# parent check runs too); each is checked to be TokenValid.
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
seed_credentials() { # url dir
    local T=$1 TMP=$2 cred code
    EMAIL=bench@example.com
    PASSWORD='bench-password-42'
    curl -fsS -X POST "$T/api/v1/account/register" -H 'Content-Type: application/json' \
        -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" >"$TMP/account.json"
    USERNAME=$(json '["username"]' <"$TMP/account.json")
    curl -fsS -X POST "$T/api/v1/token/pair" -H 'Content-Type: application/json' \
        -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" >"$TMP/pair.json"
    ACCESS=$(json '["access"]' <"$TMP/pair.json")
    curl -fsS -X POST "$T/tokens/v2/$USERNAME" -H "Authorization: Bearer $ACCESS" \
        -H 'Content-Type: application/json' \
        -d '{"scopes":["tokens:read","tokens:write","stac"],"note":"bench sk"}' >"$TMP/sk.json"
    SK=$(json '["token"]' <"$TMP/sk.json")
    # The same, bound to one collection (issue 15): checks and searches beside the unbound sk.
    curl -fsS -X POST "$T/tokens/v2/$USERNAME" -H "Authorization: Bearer $ACCESS" \
        -H 'Content-Type: application/json' \
        -d '{"scopes":["tokens:read","tokens:write","stac"],"note":"bench bound sk","resources":["collection:l4a-ch4-mfa-v3a"]}' >"$TMP/skb.json"
    SK_BOUND=$(json '["token"]' <"$TMP/skb.json")
    EXPIRES=$(python3 -c 'import datetime as d; print((d.datetime.now(d.timezone.utc)+d.timedelta(minutes=55)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))')
    curl -fsS -X POST "$T/tokens/v2/$USERNAME" -H "Authorization: Bearer $SK" \
        -H 'Content-Type: application/json' \
        -d "{\"scopes\":[\"stac\"],\"expires\":\"$EXPIRES\"}" >"$TMP/tk.json"
    TK=$(json '["token"]' <"$TMP/tk.json")
    for cred in "$SK" "$TK" "$SK_BOUND"; do
        code=$(curl -fsS "$T/tokens/v2" -H "Authorization: Bearer $cred" | json '["code"]')
        [ "$code" = TokenValid ] || { echo "bench: seeded token is $code" >&2; return 1; }
    done
    curl -fsS "$T/api/v1/account/me" -H "Authorization: Bearer $ACCESS" >/dev/null
}
