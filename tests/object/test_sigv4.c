/*
 * test_sigv4.c - SigV4 signing checked against AWS's published examples:
 * the aws-sig-v4-test-suite (get-vanilla, get-vanilla-query-order-key-case,
 * post-vanilla), the IAM ListUsers example of the signing guide, and the
 * four examples of the S3 API reference "Signature Calculations for the
 * Authorization Header" (GET Object with Range, PUT Object, GET Bucket
 * lifecycle, GET Bucket list).  Every expected string is copied from AWS.
 */
#include "sigv4.h"
#include "testlib.h"

#include <errno.h>
#include <stdlib.h>

#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define S3_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define S3_HOST "examplebucket.s3.amazonaws.com"
#define S3_DATE "20130524T000000Z"

static const struct sigv4_credentials suite_cred = {"AKIDEXAMPLE", SUITE_SECRET, "us-east-1", "service"};
static const struct sigv4_credentials s3_cred = {"AKIAIOSFODNN7EXAMPLE", S3_SECRET, "us-east-1", "s3"};

/* Signs req and checks the bare signature and, if given, the canonical
 * request's hash (which AWS prints as the last line of the string to sign). */
static void check_signature(const struct sigv4_request *req, const struct sigv4_credentials *cred, const char *date,
			    const char *want_sig, const char *want_creq_hash)
{
	char auth[1024], sig[SIGV4_SHA256_HEX_LEN + 1] = "";
	CHECK_EQ(sigv4_authorization(req, cred, date, auth, sizeof(auth), sig), 0);
	CHECK_STR(sig, want_sig);
	if (want_creq_hash) {
		char *creq = sigv4_canonical_request(req);
		REQUIRE(creq);
		char hash[SIGV4_SHA256_HEX_LEN + 1];
		sigv4_sha256_hex(creq, strlen(creq), hash);
		CHECK_STR(hash, want_creq_hash);
		free(creq);
	}
}

TEST(suite_get_vanilla)
{
	struct sigv4_pair h[] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
	struct sigv4_request req = {"GET", "/", NULL, 0, h, 2, SIGV4_EMPTY_SHA256};
	check_signature(&req, &suite_cred, "20150830T123600Z",
			"5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
			"bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
	char auth[512];
	CHECK_EQ(sigv4_authorization(&req, &suite_cred, "20150830T123600Z", auth, sizeof(auth), NULL), 0);
	CHECK_STR(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
			"SignedHeaders=host;x-amz-date, "
			"Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(suite_get_vanilla_query_order_key_case)
{
	struct sigv4_pair h[] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
	struct sigv4_pair q[] = {{"Param2", "value2"}, {"Param1", "value1"}};
	struct sigv4_request req = {"GET", "/", q, 2, h, 2, SIGV4_EMPTY_SHA256};
	check_signature(&req, &suite_cred, "20150830T123600Z",
			"b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500", NULL);
}

TEST(suite_post_vanilla)
{
	struct sigv4_pair h[] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
	struct sigv4_request req = {"POST", "/", NULL, 0, h, 2, SIGV4_EMPTY_SHA256};
	check_signature(&req, &suite_cred, "20150830T123600Z",
			"5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b", NULL);
}

TEST(guide_iam_list_users)
{
	struct sigv4_pair h[] = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
				 {"Host", "iam.amazonaws.com"},
				 {"X-Amz-Date", "20150830T123600Z"}};
	struct sigv4_pair q[] = {{"Version", "2010-05-08"}, {"Action", "ListUsers"}};
	struct sigv4_request req = {"GET", "/", q, 2, h, 3, SIGV4_EMPTY_SHA256};
	struct sigv4_credentials cred = {"AKIDEXAMPLE", SUITE_SECRET, "us-east-1", "iam"};
	check_signature(&req, &cred, "20150830T123600Z",
			"5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
			"f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
}

TEST(s3_get_object_range)
{
	struct sigv4_pair h[] = {{"Host", S3_HOST},
				 {"Range", "bytes=0-9"},
				 {"x-amz-content-sha256", SIGV4_EMPTY_SHA256},
				 {"x-amz-date", S3_DATE}};
	struct sigv4_request req = {"GET", "/test.txt", NULL, 0, h, 4, SIGV4_EMPTY_SHA256};
	check_signature(&req, &s3_cred, S3_DATE, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
			"7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
	char *creq = sigv4_canonical_request(&req);
	CHECK_STR(creq, "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
			"x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
			"x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
			"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	free(creq);
	char auth[512];
	CHECK_EQ(sigv4_authorization(&req, &s3_cred, S3_DATE, auth, sizeof(auth), NULL), 0);
	CHECK_STR(auth, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
			"SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
			"Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(s3_put_object)
{
	const char *body = "Welcome to Amazon S3.";
	char payload[SIGV4_SHA256_HEX_LEN + 1];
	sigv4_sha256_hex(body, strlen(body), payload);
	CHECK_STR(payload, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
	char uri[64];
	CHECK(sigv4_uri_encode("/test$file.text", 1, uri, sizeof(uri)) > 0);
	CHECK_STR(uri, "/test%24file.text");
	struct sigv4_pair h[] = {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
				 {"Host", S3_HOST},
				 {"x-amz-date", S3_DATE},
				 {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
				 {"x-amz-content-sha256", payload}};
	struct sigv4_request req = {"PUT", uri, NULL, 0, h, 5, payload};
	check_signature(&req, &s3_cred, S3_DATE, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
			NULL);
}

TEST(s3_get_bucket_lifecycle)
{
	struct sigv4_pair h[] = {
	    {"Host", S3_HOST}, {"x-amz-content-sha256", SIGV4_EMPTY_SHA256}, {"x-amz-date", S3_DATE}};
	struct sigv4_pair q[] = {{"lifecycle", ""}};
	struct sigv4_request req = {"GET", "/", q, 1, h, 3, SIGV4_EMPTY_SHA256};
	check_signature(&req, &s3_cred, S3_DATE, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
			NULL);
}

TEST(s3_list_objects)
{
	struct sigv4_pair h[] = {
	    {"Host", S3_HOST}, {"x-amz-content-sha256", SIGV4_EMPTY_SHA256}, {"x-amz-date", S3_DATE}};
	struct sigv4_pair q[] = {{"prefix", "J"}, {"max-keys", "2"}}; /* out of order on purpose */
	struct sigv4_request req = {"GET", "/", q, 2, h, 3, SIGV4_EMPTY_SHA256};
	check_signature(&req, &s3_cred, S3_DATE, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
			NULL);
}

TEST(uri_encoding_rules)
{
	char out[256];
	CHECK(sigv4_uri_encode("a b+c*d~e_f-g.h/i%j", 1, out, sizeof(out)) > 0);
	CHECK_STR(out, "a%20b%2Bc%2Ad~e_f-g.h/i%25j");
	CHECK(sigv4_uri_encode("a/b", 0, out, sizeof(out)) > 0);
	CHECK_STR(out, "a%2Fb");
	CHECK(sigv4_uri_encode("\xc3\xa9t\xc3\xa9", 1, out, sizeof(out)) > 0);
	CHECK_STR(out, "%C3%A9t%C3%A9");
	CHECK_EQ(sigv4_uri_encode("abcdef", 1, out, 4), -ENAMETOOLONG);
	struct sigv4_pair q[] = {{"b", "2"}, {"a", "x y"}, {"a", "1"}, {"c", ""}};
	char *cq = sigv4_canonical_query(q, 4);
	CHECK_STR(cq, "a=1&a=x%20y&b=2&c=");
	free(cq);
}

TEST(header_values_trimmed_and_collapsed)
{
	struct sigv4_pair h[] = {{"My-Header1", "  a   b   c  "}, {"Host", "h"}, {"x-amz-date", S3_DATE}};
	struct sigv4_request req = {"GET", "/", NULL, 0, h, 3, SIGV4_EMPTY_SHA256};
	char *creq = sigv4_canonical_request(&req);
	CHECK_STR(creq, "GET\n/\n\nhost:h\nmy-header1:a b c\nx-amz-date:20130524T000000Z\n\n"
			"host;my-header1;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	free(creq);
}

TEST(amz_date_and_bad_input)
{
	char d[SIGV4_AMZ_DATE_LEN + 1];
	sigv4_amz_date(1440938160LL, d);
	CHECK_STR(d, "20150830T123600Z");
	struct sigv4_pair h[] = {{"Host", "h"}};
	struct sigv4_request req = {"GET", "/", NULL, 0, h, 1, SIGV4_EMPTY_SHA256};
	char auth[512];
	CHECK_EQ(sigv4_authorization(&req, &s3_cred, "2015-08-30", auth, sizeof(auth), NULL), -EINVAL);
	CHECK_EQ(sigv4_authorization(&req, &s3_cred, S3_DATE, auth, 20, NULL), -ENAMETOOLONG);
}

TEST_MAIN()
