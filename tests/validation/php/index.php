<?php
// The petition page of the nginx -> PHP-FPM -> MariaDB stack of the validation matrix.
//
// Every page's time is spent in MariaDB: a SLEEP() drawn from the law PETITION_PAGE names
// (constant:MS, lognormal:MEDIAN_MS:SIGMA or bimodal:HIT_FRACTION:HIT_MS:MISS_MS, as
// tests/validation/petition_app.py) inside the query that reads the count of signatures,
// so the PHP child is held waiting on its database, as a page of an advocacy site is.
// Routes: GET /healthz (PHP only, no database, not logged), GET / and GET /act (the count), POST /sign
// (the signature inserted and the new count read in one transaction, then committed).
// A new connection per request, as PHP without persistent connections opens one.

function page_s(string $law): float {
    $p = explode(':', $law);
    $kind = array_shift($p);
    $p = array_map('floatval', $p);
    if ($kind === 'constant' && count($p) === 1) {
        return $p[0] / 1000;
    }
    if ($kind === 'lognormal' && count($p) === 2) {
        // Box-Muller: a standard normal from two uniforms in (0, 1]
        $u = (mt_rand() + 1) / (mt_getrandmax() + 1);
        $v = (mt_rand() + 1) / (mt_getrandmax() + 1);
        return $p[0] / 1000 * exp($p[1] * sqrt(-2 * log($u)) * cos(2 * M_PI * $v));
    }
    if ($kind === 'bimodal' && count($p) === 3) {
        return (mt_rand() / mt_getrandmax() < $p[0] ? $p[1] : $p[2]) / 1000;
    }
    throw new InvalidArgumentException("PETITION_PAGE: expected constant:MS, lognormal:MEDIAN_MS:SIGMA or "
        . "bimodal:HIT_FRACTION:HIT_MS:MISS_MS, got '$law'");
}

$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
$method = $_SERVER['REQUEST_METHOD'];
if ($path === '/healthz') {
    header('Content-Type: text/plain');
    echo "ok\n";
    exit;
}
// PETITION_TIMES (optional): a folder where each child logs when each request entered and left it, on the
// monotonic clock the test's processes share (hrtime is CLOCK_MONOTONIC, as Python's time.monotonic()).
$times = getenv('PETITION_TIMES');
if ($times) {
    $entered = hrtime(true) / 1e9;
    register_shutdown_function(function () use ($times, $entered, $method, $path) {
        file_put_contents("$times/php-" . getmypid() . '.txt',
            sprintf("%.6f %.6f %s %s\n", $entered, hrtime(true) / 1e9, $method, $path), FILE_APPEND);
    });
}
if ($method !== 'GET' && !($method === 'POST' && $path === '/sign')) {
    http_response_code(405);
    exit;
}

mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
$db = new mysqli(getenv('PETITION_DB_HOST'), 'petition', 'petition', 'petition', (int) getenv('PETITION_DB_PORT'));
$seconds = page_s(getenv('PETITION_PAGE') ?: 'constant:20');
$count = $db->prepare('SELECT SLEEP(?), COUNT(*) FROM signatures');
$count->bind_param('d', $seconds);

if ($method === 'POST') {
    $db->begin_transaction();
    $insert = $db->prepare('INSERT INTO signatures (name, email, zip, signed_at) VALUES (?, ?, ?, NOW(6))');
    $name = $_POST['name'] ?? '';
    $email = $_POST['email'] ?? '';
    $zip = $_POST['zip'] ?? '';
    $insert->bind_param('sss', $name, $email, $zip);
    $insert->execute();
}
$count->execute();
$count->bind_result($slept, $signatures);
$count->fetch();
$count->close();
if ($method === 'POST') {
    $db->commit();
}
$db->close();

header('Content-Type: text/html');
if ($method === 'POST') {
    echo "<!DOCTYPE html><title>Thank you</title><p>Your letter is on its way: $signatures signatures.</p>\n";
} else {
    echo "<!DOCTYPE html><title>Sign the letter</title><p>$signatures have signed. Tell Congress.</p>"
        . "<form method=post action=/sign></form>\n";
}
