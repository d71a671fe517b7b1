<?php

require __DIR__ . '/../vendor/autoload.php';

// A logger built on psr/log's AbstractLogger: warning() is the library's own code.
$logger = new class extends Psr\Log\AbstractLogger {
    public array $lines = [];

    public function log($level, $message, array $context = []): void
    {
        $this->lines[] = "$level: $message";
    }
};
$logger->warning('deployed');

header('Content-Type: text/plain');
$greeting = getenv('GREETING');
echo 'hello from php ', PHP_VERSION, ' (psr/log says ', implode(', ', $logger->lines), ')';
echo $greeting === false ? '' : " $greeting", "\n";
